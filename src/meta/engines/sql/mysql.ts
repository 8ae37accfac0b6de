// MySQL / MariaDB engine: mysql://USER[:PASS]@HOST[:PORT]/DB[?prefix=P&pool=N]. InnoDB tables, names as
// VARBINARY (bytewise order), SERIALIZABLE sessions, write transactions retried on deadlocks and lock
// wait timeouts. A statement sent on its own is a server-side prepared statement (execute()); writes whose
// result is not needed are held and sent with the next statement or the COMMIT as one multi-statement text.
import mysql from 'mysql2/promise';
import { FsError } from '../../../errors.js';
import { BaseMeta } from '../../base/index.js';
import { registerMeta } from '../../registry.js';
import type { Dialect } from './dialect.js';
import { PooledSqlEngine, parsePoolUrl, type PooledConn, type QueryResult } from './pooled.js';
import type { ColumnKind, TableDef } from './schema.js';

class MysqlDialect implements Dialect {
  readonly name = 'mysql';
  readonly batchCounters = true;
  /** No RETURNING: an upsert reports its new value through LAST_INSERT_ID(expr) instead (see returningId). */
  readonly returning = false;
  readonly returningId = true;

  columnType(kind: ColumnKind): string {
    return { int: 'BIGINT', name: 'VARBINARY(255)', text: 'LONGTEXT', blob: 'LONGBLOB' }[kind];
  }

  excluded(col: string): string {
    return `VALUES(${col})`;
  }

  concat(a: string, b: string): string {
    return `CONCAT(${a}, ${b})`;
  }

  blobConcat(a: string, b: string): string {
    return this.concat(a, b);
  }

  upsert(table: string, cols: string[], keys: string[], update: string[], returning?: string): string {
    // The returned column's new value travels in the OK packet as the statement's insert id.
    const set = update.length
      ? update.map((u) => (returning && u.startsWith(`${returning} = `) ? `${returning} = LAST_INSERT_ID(${u.slice(returning.length + 3)})` : u))
      : [`${keys[0]} = ${keys[0]}`];
    return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ON DUPLICATE KEY UPDATE ${set.join(', ')}`;
  }

  createTable(def: TableDef, table: string): string[] {
    const cols = def.columns.map(([n, k]) => `${n} ${this.columnType(k)} NOT NULL`);
    const idx = (def.indexes ?? []).map((i) => `INDEX ${table}_${i.join('_')} (${i.join(', ')})`);
    return [
      `CREATE TABLE IF NOT EXISTS ${table} (${[...cols, `PRIMARY KEY (${def.primaryKey.join(', ')})`, ...idx].join(', ')}) ` +
        `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ];
  }
}

/** Deadlock, lock wait timeout, "record changed" (MariaDB snapshot isolation), duplicate key of a concurrent insert. */
const RETRY = new Set([1213, 1205, 1020, 1062]);

class MysqlEngine extends PooledSqlEngine {
  readonly name = 'mysql';
  /**
   * Writers that change the namespace all update the version counter, so they commit one at a time anyway;
   * locking its row first makes them queue instead of deadlocking on the shared locks SERIALIZABLE reads
   * take (then retrying). Sent with START TRANSACTION as one multi-statement query: one round trip.
   */
  protected readonly begin: string;
  private readonly pool: mysql.Pool;
  /**
   * Connections whose session is set up (SERIALIZABLE), and whether statements may be batched with inlined
   * literals on them: not under NO_BACKSLASH_ESCAPES, where the client-side escaping would be wrong.
   */
  private readonly ready = new WeakMap<object, { batch: boolean }>();

  constructor(raw: string) {
    const opts = parsePoolUrl(raw, 3306, 'mysql://USER[:PASSWORD]@HOST:3306/DATABASE');
    super(opts.safe, new MysqlDialect(), opts);
    this.begin = `START TRANSACTION; SELECT value FROM ${opts.prefix}counter WHERE name = 'version' FOR UPDATE`;
    this.pool = mysql.createPool({
      host: opts.host,
      port: opts.port,
      user: opts.user || undefined,
      password: opts.password || undefined,
      database: opts.database,
      connectionLimit: opts.pool,
      maxIdle: opts.pool,
      charset: 'utf8mb4',
      // For `begin` and for batches of held writes (parameters inlined by mysql2's escaping; see acquire()).
      multipleStatements: true,
      // Affected rows of an upsert must tell an insert (1) from an update to the same value (0): see returningId.
      flags: ['-FOUND_ROWS'],
      connectTimeout: 15_000,
      // Counters and ids are BIGINT but stay below 2^53: plain numbers.
      supportBigNumbers: false,
    });
  }

  protected async acquire(): Promise<PooledConn> {
    const conn = await this.pool.getConnection();
    let setup = this.ready.get(conn.connection);
    if (!setup) {
      try {
        this.roundTrips++;
        const [res] = await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT @@SESSION.sql_mode AS m');
        const mode = String(((res as any[])[1] as Array<{ m: unknown }>)[0]?.m ?? '');
        setup = { batch: !/NO_BACKSLASH_ESCAPES/i.test(mode) };
      } catch (e) {
        conn.destroy();
        throw e;
      }
      this.ready.set(conn.connection, setup);
    }
    const last = (res: unknown, many: boolean): QueryResult => {
      const r = many && Array.isArray(res) ? res[res.length - 1] : res;
      if (Array.isArray(r)) return { rows: r as any[], affected: 0 };
      const h = r as mysql.ResultSetHeader;
      return { rows: [], affected: h.affectedRows, insertId: Number(h.insertId) };
    };
    return {
      query: async (sql: string, params: unknown[]): Promise<QueryResult> => {
        // Transaction control and DDL cannot always be prepared: they go as plain queries.
        const [res] = params.length ? await conn.execute(sql, params as any[]) : await conn.query(sql);
        return last(res, false);
      },
      // Held blind writes go out with the next statement or the COMMIT as one multi-statement text.
      ...(setup.batch
        ? {
            batch: async (statements: Array<[string, unknown[]]>): Promise<QueryResult> => {
              const text = statements.map(([sql, params]) => (params.length ? mysql.format(sql, params as any[]) : sql)).join(';\n');
              const [res] = await conn.query(text);
              return last(res, statements.length > 1);
            },
          }
        : {}),
      release: (broken: boolean) => (broken ? conn.destroy() : conn.release()),
    };
  }

  /** The server went away (killed connection, shutdown, restart) or the socket closed under the driver. */
  protected connectionLost(e: unknown): boolean {
    const err = e as { errno?: number; code?: string; fatal?: boolean };
    return err?.code === 'PROTOCOL_CONNECTION_LOST' || [1927, 1053, 2006, 2013, 4031].includes(err?.errno ?? 0) || (err?.fatal === true && !err?.errno);
  }

  protected retryable(e: unknown): boolean {
    return RETRY.has((e as { errno?: number })?.errno ?? 0);
  }

  protected mapError(e: unknown): unknown {
    if (e instanceof FsError) return e;
    const net = this.connectError(e);
    if (net) return net;
    const err = e as { errno?: number; code?: string; message?: string; sqlMessage?: string };
    const msg = err?.sqlMessage ?? err?.message ?? String(e);
    const url = this.opts.safe;
    switch (err?.errno) {
      case 1146:
        return new FsError('ENOENT', { message: `no volume is formatted at ${url} (run 'ferry format' first)`, cause: e });
      case 1045:
      case 1044:
      case 1698:
        return new FsError('EACCES', { message: `cannot log in to ${url}: ${msg}`, cause: e });
      case 1049:
        return new FsError('ENOENT', { message: `database '${this.opts.database}' does not exist (${url}); create it first`, cause: e });
      case 1040:
        return new FsError('EAGAIN', { message: `${url}: too many connections`, cause: e });
      case 1114:
        return new FsError('ENOSPC', { message: `${url}: ${msg}`, cause: e });
    }
    if (err?.code === 'PROTOCOL_CONNECTION_LOST' || err?.code === 'ETIMEDOUT') {
      return new FsError('EIO', { message: `lost the connection to mysql at ${this.opts.host}:${this.opts.port} (${url})`, cause: e });
    }
    if (typeof err?.errno === 'number' || typeof err?.code === 'string') return new FsError('EIO', { message: `${url}: ${msg}`, cause: e });
    return e;
  }

  protected async endPool(): Promise<void> {
    await this.pool.end();
  }
}

registerMeta('mysql', async (_url, raw) => new BaseMeta(new MysqlEngine(raw)));
