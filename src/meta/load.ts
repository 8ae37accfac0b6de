// `ferry load`: a dump's records (dump-format.ts) into a new or empty volume of any engine, streamed: rows
// go to the engine in batches of one transaction each (Meta.loadRows), so memory holds one batch.
import { FsError } from '../errors.js';
import { readFormat } from './format.js';
import type { Meta } from './interface.js';
import {
  DUMP_FORMAT,
  DUMP_VERSION,
  ROW_KINDS,
  badDump,
  blankSecrets,
  type DumpCounters,
  type DumpHeader,
  type DumpRecord,
  type DumpRow,
  type LoadTotals,
} from './dump-format.js';
import type { Format } from './types.js';

export interface LoadOptions {
  /** Rows per transaction (default 5000). */
  batch?: number;
  /** Names the dump in messages. */
  source?: string;
  /** Called after each batch with the rows loaded so far. */
  progress?: (rows: number) => void;
}

export interface LoadResult extends LoadTotals {
  header: DumpHeader;
  format: Format;
  rows: number;
  /** Secrets the dump did not carry: they must be set before the volume is used. */
  missing: ReturnType<typeof blankSecrets>;
}

export async function loadDump(meta: Meta, records: AsyncIterable<DumpRecord>, opts: LoadOptions = {}): Promise<LoadResult> {
  const where = opts.source ?? 'the dump';
  const batchSize = Math.max(1, opts.batch ?? 5000);
  const it = records[Symbol.asyncIterator]();
  const next = async () => {
    const n = await it.next();
    return n.done ? undefined : n.value;
  };
  const header = await next();
  if (!header) throw badDump(where, 'it is empty');
  if (header.kind !== 'header' || header.format !== DUMP_FORMAT) throw badDump(where, 'its first line is not a FerryFS dump header');
  if (!(header.version >= 1 && header.version <= DUMP_VERSION)) {
    throw new FsError('ENOTSUP', { message: `${where} has dump version ${String(header.version)}, written by a newer FerryFS; this one reads up to ${DUMP_VERSION}: upgrade it` });
  }
  const setting = await next();
  if (setting?.kind !== 'setting') throw badDump(where, 'its second line is not the format record');
  // An older record is upgraded, a newer one refused, as on every load of a format.
  const format = readFormat(setting.format, where);
  await meta.loadBegin();
  let rows = 0;
  let batch: DumpRow[] = [];
  let counters: DumpCounters | undefined;
  const flush = async () => {
    if (!batch.length) return;
    await meta.loadRows(batch);
    rows += batch.length;
    batch = [];
    opts.progress?.(rows);
  };
  let end: Extract<DumpRecord, { kind: 'end' }> | undefined;
  for (let r = await next(); r; r = await next()) {
    if (end) throw badDump(where, `a '${r.kind}' record follows the end line`);
    if (ROW_KINDS.has(r.kind)) {
      if (counters) throw badDump(where, `a '${r.kind}' row follows the counters`);
      batch.push(r as DumpRow);
      if (batch.length >= batchSize) await flush();
    } else if (r.kind === 'counters') counters = r.counters;
    else if (r.kind === 'end') end = r;
    else throw badDump(where, `unknown record kind '${r.kind}'`);
  }
  await flush();
  const unfinished = 'the target holds part of it: drop it before loading again';
  if (!end || !counters) throw new FsError('EINVAL', { message: `${where} ends early (truncated?): ${unfinished}` });
  if (end.rows !== rows) throw new FsError('EINVAL', { message: `${where} has ${rows} rows but its end line says ${end.rows}: ${unfinished}` });
  const totals = await meta.loadEnd(format, counters);
  return { ...totals, header, format, rows, missing: blankSecrets(format) };
}

/** The line telling what to set on a volume loaded from a dump without secrets (undefined: nothing). */
export function missingSecretsMessage(metaUrl: string, missing: LoadResult['missing']): string | undefined {
  const parts: string[] = [];
  if (missing.storage) parts.push(`set the object store's keys with 'ferry config ${metaUrl} --access-key KEY --secret-key SECRET'`);
  if (missing.gatewayKeys.length) {
    parts.push(
      `gateway key${missing.gatewayKeys.length > 1 ? 's' : ''} ${missing.gatewayKeys.join(', ')} lost ${missing.gatewayKeys.length > 1 ? 'their secrets' : 'its secret'}: ` +
        `'ferry gateway keys remove' and 'keys add --access-key ID --secret-key SECRET' each`,
    );
  }
  return parts.length ? `the dump was made without --keep-secrets: ${parts.join('; ')}` : undefined;
}
