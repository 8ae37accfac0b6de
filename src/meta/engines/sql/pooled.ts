// What the networked SQL engines (PostgreSQL, MySQL) share: a pool of async connections, write
// transactions at SERIALIZABLE retried with jittered backoff on conflicts, reads on any pooled connection,
// URL options, one-line errors without the password, and a round-trip counter (the benchmark reads it).
//
// A lost connection (the server restarted, a proxy or the network cut it) is waited out for up to
// RECONNECT_WINDOW_MS once the engine has been connected: a transaction cut before its COMMIT is simply run
// again. One cut after it sent COMMIT may or may not have committed: each write transaction inserts its id
// into the txdone table, and the next attempt, once it holds the same lock every writer takes in `begin`
// (so the cut transaction has finished by then, one way or the other), looks for that id first: found, the
// transaction committed and its result is returned without running it again.
import { randomBytes } from 'node:crypto';
import { FsError } from '../../../errors.js';
import type { Row, SqlConn } from './dialect.js';
import { SqlEngine } from './engine.js';
import type { Dialect } from './dialect.js';
import { TABLES } from './schema.js';

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

/** How long a transaction keeps retrying while the server cannot be reached (a restart takes seconds). */
export const RECONNECT_WINDOW_MS = 60_000;
/** txdone rows older than this are deleted (a retry comes within RECONNECT_WINDOW_MS). */
const TXDONE_KEEP_MS = 10 * 60_000;

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
  /** Transactions (or reads) run again after the connection was lost; of them, commits found applied. */
  reconnectRetries = 0;
  commitsFoundApplied = 0;
  /** Set by the first successful connection: later connection failures are outages to wait out. */
  private connected = false;
  private txdoneReady?: Promise<void>;
  private commits = 0;
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
  /** Driver errors meaning the connection is gone (besides the socket errors networkCode knows). */
  protected abstract connectionLost(e: unknown): boolean;

  private lost(e: unknown): boolean {
    return networkCode(e) !== undefined || this.connectionLost(e);
  }

  /** Whether to wait out this error: the connection was lost after the engine had been connected, recently. */
  private outage(e: unknown, since: number): boolean {
    return this.connected && !this.closed && !(e instanceof FsError) && this.lost(e) && Date.now() - since <= RECONNECT_WINDOW_MS;
  }

  /** A volume formatted before the txdone table existed gets it on its first write (once per client). */
  private ensureTxdone(): Promise<void> {
    const def = TABLES.find((t) => t.name === 'txdone')!;
    this.txdoneReady ??= this.execute(this.dialect.createTable(def, this.prefix + def.name), false).catch((e) => {
      this.txdoneReady = undefined;
      throw e;
    });
    return this.txdoneReady;
  }

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

  private async connect(since = Date.now()): Promise<PooledConn> {
    for (let i = 0; ; i++) {
      if (this.closed) throw new FsError('EIO', { message: `metadata engine ${this.opts.safe} is closed` });
      try {
        const c = await this.acquire();
        this.connected = true;
        return c;
      } catch (e) {
        if (!this.outage(e, since)) throw this.mapError(e);
        await sleep(Math.min(50 * 2 ** i, 1000));
      }
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
    await this.ensureTxdone();
    const txid = randomBytes(12).toString('hex');
    const txdone = `${this.prefix}txdone`;
    const since = Date.now();
    /** The result of an attempt whose COMMIT was sent but not answered. */
    let unknown: { res: T } | undefined;
    for (let attempt = 0; ; attempt++) {
      const pc = await this.connect(since);
      const c = this.wrap(pc, true);
      let broken = false;
      let committing = false;
      let res: T | undefined;
      try {
        if (c.defer) await c.defer(this.begin, []);
        else await c.run(this.begin, []);
        if (unknown) {
          // `begin` waited for the cut transaction's lock: it has committed or rolled back by now.
          const applied = (await c.all(`SELECT at FROM ${txdone} WHERE id = ?`, [txid])).length > 0;
          if (applied) {
            await c.run('ROLLBACK', []);
            pc.release(false);
            this.commitsFoundApplied++;
            return unknown.res;
          }
          unknown = undefined;
        }
        res = await fn(c);
        const now = Date.now();
        const record = c.defer ?? c.run;
        await record(`INSERT INTO ${txdone} (id, at) VALUES (?, ?)`, [txid, now]);
        if (++this.commits % 1000 === 1) await record(`DELETE FROM ${txdone} WHERE at < ?`, [now - TXDONE_KEEP_MS]);
        committing = true;
        await c.finish();
        pc.release(false);
        return res;
      } catch (e) {
        if (committing && this.lost(e)) unknown = { res: res as T };
        // Also after a failed begin: part of it may have opened the transaction.
        if (this.lost(e)) broken = true;
        else {
          try {
            await pc.query('ROLLBACK', []);
          } catch {
            broken = true;
          }
        }
        pc.release(broken);
        if (this.outage(e, since)) {
          this.reconnectRetries++;
          await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 1000) * (0.5 + Math.random()));
          continue;
        }
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
    const since = Date.now();
    for (let i = 0; ; i++) {
      const pc = await this.connect(since);
      let broken = false;
      try {
        return await fn(this.wrap(pc, false));
      } catch (e) {
        broken = this.lost(e);
        if (this.outage(e, since)) {
          this.reconnectRetries++;
          await sleep(Math.min(50 * 2 ** i, 1000));
          continue;
        }
        throw this.mapError(e);
      } finally {
        pc.release(broken);
      }
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
