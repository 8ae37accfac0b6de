// What the networked SQL engines (PostgreSQL, MySQL) share: a pool of async connections, write
// transactions at SERIALIZABLE retried with jittered backoff on conflicts, reads on any pooled connection,
// URL options, one-line errors without the password, and a round-trip counter (the benchmark reads it).
import { FsError } from '../../../errors.js';
import type { Row, SqlConn } from './dialect.js';
import { SqlEngine } from './engine.js';
import type { Dialect } from './dialect.js';

export interface QueryResult {
  rows: Row[];
  affected: number;
  /** MySQL's OK packet: AUTO_INCREMENT or LAST_INSERT_ID(expr) of the statement. */
  insertId?: number;
}

/** A connection borrowed from the pool. */
export interface PooledConn {
  query(sql: string, params: unknown[]): Promise<QueryResult>;
  /**
   * Sends several statements in one round trip (one multi-statement text with the parameters inlined as
   * escaped literals) and returns the result of the last. Without it, every statement is its own round trip.
   */
  batch?(statements: Array<[string, unknown[]]>): Promise<QueryResult>;
  /** Returns the connection to its pool; a broken one is dropped instead. */
  release(broken: boolean): void;
}

/** Options shared by the URL of every pooled engine. */
export interface PoolUrl {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
  prefix: string;
  pool: number;
  /** The URL without the password: what the engine reports and what errors name. */
  safe: string;
}

const TABLE_PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,30}$/;

/** Parses SCHEME://USER[:PASS]@HOST[:PORT]/DB[?prefix=P&pool=N]. */
export function parsePoolUrl(raw: string, defaultPort: number, example: string): PoolUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new FsError('EINVAL', { message: `invalid metadata URL (expected ${example})` });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname || !database || database.includes('/')) {
    throw new FsError('EINVAL', { message: `invalid metadata URL '${safeUrl(raw)}' (expected ${example})` });
  }
  const prefix = u.searchParams.get('prefix') ?? '';
  if (prefix && !TABLE_PREFIX.test(prefix)) {
    throw new FsError('EINVAL', { message: `invalid table prefix '${prefix}' (letters, digits and _, at most 31)` });
  }
  const poolRaw = u.searchParams.get('pool');
  const pool = poolRaw === null ? 10 : Number(poolRaw);
  if (!Number.isInteger(pool) || pool < 1 || pool > 1000) throw new FsError('EINVAL', { message: `invalid pool size '${poolRaw}' (1..1000)` });
  for (const k of u.searchParams.keys()) {
    if (k !== 'prefix' && k !== 'pool') throw new FsError('EINVAL', { message: `unknown option '${k}' in '${safeUrl(raw)}' (known: prefix, pool)` });
  }
  return {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : defaultPort,
    database,
    prefix,
    pool,
    safe: safeUrl(raw),
  };
}

/** The URL with its password left out. */
export function safeUrl(raw: string): string {
  return raw.replace(/^([a-z0-9+.-]+:\/\/[^:@/]*):[^@/]*@/i, '$1@');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Network-level failures: the server is not there (or went away). */
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);

export function networkCode(e: unknown): string | undefined {
  const err = e as { code?: string; errors?: unknown[] };
  if (typeof err?.code === 'string' && NETWORK.has(err.code)) return err.code;
  if (Array.isArray(err?.errors)) for (const x of err.errors) if (networkCode(x)) return networkCode(x);
  return undefined;
}

export abstract class PooledSqlEngine extends SqlEngine {
  /** Statements sent to the server (each one round trip), for the benchmark. */
  roundTrips = 0;
  /** Write transactions restarted after a conflict. */
  retries = 0;
  private closed = false;
  /**
   * Write transactions of this client in flight. Writers of a volume commit one at a time on the version
   * lock, so more than two in flight only parks pooled connections in the server's lock queue, where reads
   * then wait for a free connection. Two: the next one is already queued when the current one commits.
   */
  private writers = 0;
  private readonly writeQueue: Array<() => void> = [];
  private readonly maxWriters: number;

  constructor(url: string, dialect: Dialect, readonly opts: PoolUrl) {
    super(url, dialect, opts.prefix);
    this.maxWriters = Math.max(1, Math.min(2, opts.pool - 1));
  }

  private async enterWrite(): Promise<void> {
    if (this.writers < this.maxWriters) {
      this.writers++;
      return;
    }
    await new Promise<void>((r) => this.writeQueue.push(r));
  }

  /** Hands the slot to the next waiting writer, or frees it. */
  private leaveWrite(): void {
    const next = this.writeQueue.shift();
    if (next) next();
    else this.writers--;
  }

  protected abstract acquire(): Promise<PooledConn>;
  /** Statements that open a serializable read-write transaction. */
  protected abstract readonly begin: string;
  /** A conflict with a concurrent transaction: the whole transaction is retried. */
  protected abstract retryable(e: unknown): boolean;
  /** A driver error as an FsError with one clear line (or e itself when it is already one). */
  protected abstract mapError(e: unknown): unknown;
  protected abstract endPool(): Promise<void>;

  /**
   * The SqlConn a transaction sees. In a write transaction on a driver that can batch, BEGIN and blind
   * writes (defer) are held and go out in front of the next statement that needs an answer, or with the
   * COMMIT: a create is then 5 round trips instead of 10.
   */
  private wrap(c: PooledConn, write: boolean): SqlConn & { result(sql: string, params: unknown[]): Promise<QueryResult>; finish(): Promise<void> } {
    const pending: Array<[string, unknown[]]> = [];
    const batching = write && c.batch !== undefined;
    const result = async (sql: string, params: unknown[]) => {
      this.roundTrips++;
      if (!pending.length) return c.query(sql, params);
      const all = pending.splice(0, pending.length);
      all.push([sql, params]);
      return c.batch!(all);
    };
    const conn = {
      result,
      all: async (sql: string, params: unknown[]) => (await result(sql, params)).rows,
      run: async (sql: string, params: unknown[]) => (await result(sql, params)).affected,
      insert: async (sql: string, params: unknown[]) => {
        const r = await result(sql, params);
        return { affected: r.affected, insertId: r.insertId };
      },
      finish: async () => void (await result('COMMIT', [])),
      ...(batching ? { defer: async (sql: string, params: unknown[]) => void pending.push([sql, params]) } : {}),
    };
    return conn;
  }

  private async connect(): Promise<PooledConn> {
    if (this.closed) throw new FsError('EIO', { message: `metadata engine ${this.opts.safe} is closed` });
    try {
      return await this.acquire();
    } catch (e) {
      throw this.mapError(e);
    }
  }

  protected async withWrite<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    await this.enterWrite();
    try {
      return await this.writeAttempts(fn);
    } finally {
      this.leaveWrite();
    }
  }

  private async writeAttempts<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const pc = await this.connect();
      const c = this.wrap(pc, true);
      let broken = false;
      try {
        if (c.defer) await c.defer(this.begin, []);
        else await c.run(this.begin, []);
        const res = await fn(c);
        await c.finish();
        pc.release(false);
        return res;
      } catch (e) {
        // Also after a failed begin: part of it may have opened the transaction.
        if (networkCode(e)) broken = true;
        else {
          try {
            await pc.query('ROLLBACK', []);
          } catch {
            broken = true;
          }
        }
        pc.release(broken);
        if (!(e instanceof FsError) && this.retryable(e) && attempt < 1000) {
          this.retries++;
          // Jittered exponential backoff: conflicting clients spread out instead of colliding again.
          await sleep(Math.min(2 ** Math.min(attempt, 6) * 0.5, 25) * (0.5 + Math.random()));
          continue;
        }
        throw this.mapError(e);
      }
    }
  }

  protected async withRead<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    const pc = await this.connect();
    let broken = false;
    try {
      return await fn(this.wrap(pc, false));
    } catch (e) {
      broken = networkCode(e) !== undefined;
      throw this.mapError(e);
    } finally {
      pc.release(broken);
    }
  }

  protected async execute(sql: string[], _create: boolean): Promise<void> {
    // DDL runs outside a serializable transaction (MySQL commits DDL implicitly anyway).
    const pc = await this.connect();
    try {
      const c = this.wrap(pc, false);
      for (const s of sql) await c.run(s, []);
    } catch (e) {
      throw this.mapError(e);
    } finally {
      pc.release(false);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.endPool();
  }

  /** The one-line message for a server that cannot be reached or refuses us. */
  protected connectError(e: unknown): FsError | undefined {
    const net = networkCode(e);
    if (!net) return undefined;
    const what =
      { ENOTFOUND: 'unknown host', EAI_AGAIN: 'unknown host', ETIMEDOUT: 'timed out', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ECONNRESET: 'connection reset', EPIPE: 'connection closed' }[net] ??
      'connection refused';
    return new FsError(net === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'ECONNREFUSED', {
      message: `cannot reach ${this.dialect.name} at ${this.opts.host}:${this.opts.port} for ${this.opts.safe}: ${what}`,
      cause: e,
    });
  }
}
