// PostgreSQL engine: postgres://USER[:PASS]@HOST[:PORT]/DB[?prefix=P&pool=N] (also postgresql://).
// Write transactions run at SERIALIZABLE and are retried on serialization failures; statements are named
// prepared statements (parsed once per connection), their `?` placeholders numbered once per text.
import pg from 'pg';
import { FsError } from '../../../errors.js';
import { BaseMeta } from '../../base/index.js';
import { registerMeta } from '../../registry.js';
import { OnConflictDialect } from './dialect.js';
import { PooledSqlEngine, parsePoolUrl, type PooledConn, type QueryResult } from './pooled.js';
import type { ColumnKind } from './schema.js';

// BIGINT columns come back as strings by default; every value FerryFS stores fits a double exactly.
// Set per pool, not globally, so other pg users in the process keep their parsers.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

class PostgresDialect extends OnConflictDialect {
  readonly name = 'postgres';
  readonly batchCounters = true;
  columnType(kind: ColumnKind): string {
    // COLLATE "C": names sort bytewise (UTF-8), like every other engine.
    return { int: 'BIGINT', name: 'TEXT COLLATE "C"', text: 'TEXT', blob: 'BYTEA' }[kind];
  }
}

/** SERIALIZABLE conflicts, deadlocks, and a unique violation from a concurrent insert of the same key. */
const RETRY = new Set(['40001', '40P01', '23505']);

/** A parameter as an SQL literal, for statements sent together as one simple query. */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new FsError('EINVAL', { message: `not a finite number: ${v}` });
    return String(v);
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `'\\x${Buffer.from(v).toString('hex')}'::bytea`;
  return pg.escapeLiteral(String(v));
}

/** The statement with each `?` replaced by its parameter's literal (one pass: literals are never rescanned). */
function inline(sql: string, params: unknown[]): string {
  let i = 0;
  return sql.replace(/\?/g, () => literal(params[i++]));
}

interface Prepared {
  name: string;
  text: string;
}

class PostgresEngine extends PooledSqlEngine {
  readonly name = 'postgres';
  /**
   * Every write transaction changing the namespace updates the one version counter, so writers commit one
   * at a time anyway. Taking the counter table's self-exclusive lock first (LOCK TABLE takes no snapshot,
   * so the snapshot is fresh once it is granted) turns what would be a serialization failure and a retry
   * of the whole transaction into a wait in line. Sent with BEGIN as one simple query: one round trip.
   */
  protected readonly begin: string;
  private readonly pool: pg.Pool;
  /** `?` statement text -> its `$n` form and prepared-statement name. */
  private readonly prepared = new Map<string, Prepared>();

  constructor(raw: string) {
    const opts = parsePoolUrl(raw, 5432, 'postgres://USER[:PASSWORD]@HOST:5432/DATABASE');
    super(opts.safe, new PostgresDialect(), opts);
    this.begin = `BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE ${opts.prefix}counter IN SHARE ROW EXCLUSIVE MODE`;
    this.pool = new pg.Pool({
      host: opts.host,
      port: opts.port,
      user: opts.user || undefined,
      password: opts.password || undefined,
      database: opts.database,
      max: opts.pool,
      connectionTimeoutMillis: 15_000,
      idleTimeoutMillis: 30_000,
      application_name: 'ferryfs',
      types,
    });
    // An idle connection the server closed must not crash the process; the pool drops it.
    this.pool.on('error', () => undefined);
  }

  private prepare(sql: string): Prepared {
    let p = this.prepared.get(sql);
    if (!p) {
      let n = 0;
      p = { name: `ferry_${this.prepared.size}`, text: sql.replace(/\?/g, () => `$${++n}`) };
      this.prepared.set(sql, p);
    }
    return p;
  }

  protected async acquire(): Promise<PooledConn> {
    const client = await this.pool.connect();
    // The pool listens for errors of idle clients only: a connection reset while this one is checked out
    // would be an uncaught 'error' event (a crash). The query in flight fails with it and is retried.
    if (!client.listenerCount('error')) client.on('error', () => undefined);
    return {
      query: async (sql: string, params: unknown[]): Promise<QueryResult> => {
        // Statements without parameters (BEGIN, COMMIT, DDL) go as simple queries.
        const r = params.length ? await client.query({ ...this.prepare(sql), values: params }) : await client.query(sql);
        const last = Array.isArray(r) ? (r[r.length - 1] as pg.QueryResult) : r;
        return { rows: last.rows, affected: last.rowCount ?? 0 };
      },
      batch: async (statements: Array<[string, unknown[]]>): Promise<QueryResult> => {
        const text = statements.map(([sql, params]) => inline(sql, params)).join('; ');
        const r = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
        const last = Array.isArray(r) ? r[r.length - 1]! : r;
        return { rows: last.rows, affected: last.rowCount ?? 0 };
      },
      release: (broken: boolean) => client.release(broken || undefined),
    };
  }

  /** The backend went away: terminated (pg_terminate_backend, a shutdown), or the socket closed under the driver. */
  protected connectionLost(e: unknown): boolean {
    const err = e as { code?: string; message?: string };
    if (/^(57P0[123]|08\d\d\d)$/.test(err?.code ?? '')) return true;
    return !err?.code && /Connection terminated|connection error|not queryable|ECONNRESET|socket/i.test(err?.message ?? '');
  }

  protected retryable(e: unknown): boolean {
    return RETRY.has((e as { code?: string })?.code ?? '');
  }

  protected mapError(e: unknown): unknown {
    if (e instanceof FsError) return e;
    const net = this.connectError(e);
    if (net) return net;
    const err = e as { code?: string; message?: string };
    const msg = err?.message ?? String(e);
    const code = err?.code ?? '';
    const url = this.opts.safe;
    if (code === '42P01') return new FsError('ENOENT', { message: `no volume is formatted at ${url} (run 'ferry format' first)`, cause: e });
    if (code === '28P01' || code === '28000') return new FsError('EACCES', { message: `cannot log in to ${url}: ${msg}`, cause: e });
    if (code === '3D000') return new FsError('ENOENT', { message: `database '${this.opts.database}' does not exist (${url}); create it first`, cause: e });
    if (code === '42501') return new FsError('EACCES', { message: `${url}: ${msg}`, cause: e });
    if (code === '53300') return new FsError('EAGAIN', { message: `${url}: too many connections (${msg})`, cause: e });
    if (code === '53100') return new FsError('ENOSPC', { message: `${url}: ${msg}`, cause: e });
    if (/timeout exceeded when trying to connect/i.test(msg)) return new FsError('ETIMEDOUT', { message: `cannot reach postgres at ${this.opts.host}:${this.opts.port} for ${url}: timed out`, cause: e });
    if (code || /Connection terminated/i.test(msg)) return new FsError('EIO', { message: `${url}: ${msg}`, cause: e });
    return e;
  }

  protected async endPool(): Promise<void> {
    await this.pool.end();
  }
}

registerMeta('postgres', async (_url, raw) => new BaseMeta(new PostgresEngine(raw)));
registerMeta('postgresql', async (_url, raw) => new BaseMeta(new PostgresEngine(raw)));
