// Dump records to and from bytes: one JSON object per line, gzip when the file name ends in .gz (on
// reading, whenever the bytes start with gzip's magic), `-` for stdout/stdin. Both directions stream
// with backpressure: lines are produced as the consumer takes them.
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { FsError } from '../errors.js';
import { badDump, type DumpRecord } from './dump-format.js';

/** Lines are handed to the stream in pieces of about this many characters. */
const PIECE = 1 << 16;

async function* lines(records: AsyncIterable<DumpRecord>): AsyncGenerator<string> {
  let buf = '';
  for await (const r of records) {
    buf += JSON.stringify(r) + '\n';
    if (buf.length >= PIECE) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

/** Writes records to `dest` (a path, '-' for stdout, or a stream), gzipped when asked or the path ends in .gz. */
export async function writeDump(records: AsyncIterable<DumpRecord>, dest: string | Writable, gzip?: boolean): Promise<void> {
  const zip = gzip ?? (typeof dest === 'string' && dest.endsWith('.gz'));
  // The first record before the file: a dump that cannot start (no volume, a wrong --path) creates nothing.
  const it = records[Symbol.asyncIterator]();
  const first = await it.next();
  async function* all(): AsyncGenerator<DumpRecord> {
    if (first.done) return;
    yield first.value;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  const sink = dest === '-' ? process.stdout : typeof dest === 'string' ? createWriteStream(dest) : dest;
  const src = Readable.from(lines(all()));
  // stdout must stay open for what the command prints afterwards.
  const end = sink !== process.stdout;
  if (zip) await pipeline(src, createGzip(), sink, { end });
  else await pipeline(src, sink, { end });
}

/** The bytes of src, gunzipped when they start with gzip's magic. */
async function* plain(src: Readable): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value as Buffer;
  const rest = async function* () {
    yield head;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value as Buffer;
  };
  if (head[0] === 0x1f && head[1] === 0x8b) yield* Readable.from(rest()).pipe(createGunzip());
  else yield* rest();
}

/**
 * The records of a dump file ('-' for stdin, or a stream named for messages: a backup in an object store),
 * checked line by line for shape (not for content).
 */
export async function* readDump(source: string | { stream: Readable; name: string }): AsyncGenerator<DumpRecord> {
  const given = typeof source === 'string' ? undefined : source;
  const where = given ? given.name : source === '-' ? 'standard input' : (source as string);
  const raw: Readable = given ? given.stream : source === '-' ? process.stdin : createReadStream(source as string);
  const opened = new Promise<void>((res, rej) => {
    if (given || source === '-') return res();
    raw.once('open', () => res());
    raw.once('error', (e: NodeJS.ErrnoException) =>
      rej(new FsError(e.code === 'ENOENT' ? 'ENOENT' : 'EIO', { message: `cannot read ${where}: ${e.code ?? e.message}` })),
    );
  });
  await opened;
  const input = Readable.from(plain(raw));
  let n = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (!line) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        throw badDump(`${where} line ${n}`, 'it is not JSON');
      }
      if (typeof rec !== 'object' || rec === null || typeof (rec as { kind?: unknown }).kind !== 'string') {
        throw badDump(`${where} line ${n}`, 'a record has no kind');
      }
      yield rec as DumpRecord;
    }
  } catch (e) {
    if (e instanceof FsError) throw e;
    const err = e as NodeJS.ErrnoException;
    // zlib reports a damaged or cut gzip stream this way.
    throw new FsError('EINVAL', { message: `cannot read ${where}: ${err.code === 'Z_BUF_ERROR' ? 'the gzip stream ends early (truncated?)' : err.message}` });
  } finally {
    raw.destroy();
  }
}
