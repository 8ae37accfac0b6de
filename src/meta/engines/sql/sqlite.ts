// The embedded default engine: sqlite3://PATH. WAL mode, one writer connection whose transactions are
// serialised in-process, and a reader connection that sees the last commit without waiting for writers.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { FsError } from '../../../errors.js';
import { BaseMeta } from '../../base/index.js';
import { registerMeta } from '../../registry.js';
import { OnConflictDialect, type Row, type SqlConn } from './dialect.js';
import { SqlEngine } from './engine.js';
import type { ColumnKind } from './schema.js';

class SqliteDialect extends OnConflictDialect {
  readonly name = 'sqlite3';
  columnType(kind: ColumnKind): string {
    return { int: 'INTEGER', name: 'TEXT', text: 'TEXT', blob: 'BLOB' }[kind];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const YIELD_EVERY_MS = 10;

function isBusy(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Driver errors become FsErrors with one clear line. */
function mapError(e: unknown, path: string): unknown {
  if (e instanceof FsError) return e;
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? String(e);
  if (/no such table/.test(msg)) return new FsError('ENOENT', { message: `no volume is formatted at sqlite3://${path}`, cause: e });
  if (err?.code === 'SQLITE_NOTADB' || err?.code === 'SQLITE_CORRUPT') {
    return new FsError('EIO', { message: `${path} is not a FerryFS SQLite database (${msg})`, cause: e });
  }
  if (err?.code === 'SQLITE_CANTOPEN') return new FsError('ENOENT', { message: `cannot open sqlite3://${path}: ${msg}`, cause: e });
  if (err?.code === 'SQLITE_FULL') return new FsError('ENOSPC', { message: msg, cause: e });
  if (err?.code === 'SQLITE_READONLY') return new FsError('EROFS', { message: msg, cause: e });
  if (typeof err?.code === 'string' && err.code.startsWith('SQLITE')) return new FsError('EIO', { message: msg, cause: e });
  return e;
}

/** A better-sqlite3 connection with a statement cache. */
class Conn implements SqlConn {
  private readonly cache = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  all(sql: string, params: unknown[]): Row[] {
    const s = this.stmt(sql);
    if (s.reader) return s.all(...params) as Row[];
    s.run(...params);
    return [];
  }

  run(sql: string, params: unknown[]): number {
    return this.stmt(sql).run(...params).changes;
  }
}

class SqliteEngine extends SqlEngine {
  readonly name = 'sqlite3';
  private writer?: Conn;
  private reader?: Conn;
  /** Tail of the in-process queue of write transactions on the writer connection. */
  private queue: Promise<unknown> = Promise.resolve();
  private lastYield = performance.now();

  constructor(url: string, readonly path: string) {
    super(url, new SqliteDialect(), '');
  }

  private open(create: boolean): void {
    if (this.writer) return;
    if (create) {
      // The database holds the volume's secrets (format record): only its owner reads it, as its WAL and
      // shared-memory files, which SQLite creates with the database file's mode.
      mkdirSync(dirname(resolve(this.path)), { recursive: true, mode: 0o700 });
      if (!existsSync(this.path)) closeSync(openSync(this.path, 'a', 0o600));
    } else if (!existsSync(this.path)) {
      throw new FsError('ENOENT', { message: `no volume at sqlite3://${this.path} (database file does not exist; run 'ferry format' first)` });
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path, { fileMustExist: !create });
      // Look before writing anything: opening must not turn an unrelated file into a database.
      const formatted = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'setting'`).get();
      if (!formatted && !create) throw new FsError('ENOENT', { message: `no volume is formatted at sqlite3://${this.path}` });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Checkpoints fsync the database: with the default (1000 pages) they cost more than the commits.
      db.pragma('wal_autocheckpoint = 10000');
      // Waiting happens asynchronously in withWrite: a blocking wait could stall the very
      // event loop that must finish the other transaction.
      db.pragma('busy_timeout = 0');
      const rd = new Database(this.path, { fileMustExist: true });
      rd.pragma('busy_timeout = 5000');
      this.writer = new Conn(db);
      this.reader = new Conn(rd);
    } catch (e) {
      db?.close();
      throw mapError(e, this.path);
    }
  }

  protected async withWrite<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.attempt(fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async attempt<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    // better-sqlite3 never waits for I/O, so a loop of operations would only ever run microtasks and
    // starve timers and sockets of the whole process: give the event loop a turn every few milliseconds.
    if (performance.now() - this.lastYield > YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      this.lastYield = performance.now();
    }
    this.open(false);
    const w = this.writer!;
    for (let i = 0, wait = 0.2; ; i++, wait = Math.min(wait * 2, 20)) {
      try {
        w.db.exec('BEGIN IMMEDIATE');
      } catch (e) {
        if (isBusy(e) && i < 5000) {
          await sleep(wait * (0.5 + Math.random()));
          continue;
        }
        throw mapError(e, this.path);
      }
      try {
        const res = await fn(w);
        w.db.exec('COMMIT');
        return res;
      } catch (e) {
        if (w.db.inTransaction) w.db.exec('ROLLBACK');
        if (isBusy(e) && i < 5000) {
          await sleep(wait * (0.5 + Math.random()));
          continue;
        }
        throw mapError(e, this.path);
      }
    }
  }

  protected async withRead<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    if (performance.now() - this.lastYield > YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      this.lastYield = performance.now();
    }
    this.open(false);
    try {
      return await fn(this.reader!);
    } catch (e) {
      throw mapError(e, this.path);
    }
  }

  protected async execute(sql: string[], create: boolean): Promise<void> {
    this.open(create);
    await this.withWrite(async (c) => {
      for (const s of sql) c.run(s, []);
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.writer?.db.close();
    this.reader?.db.close();
    this.writer = this.reader = undefined;
  }
}

/** sqlite3://relative/path.db or sqlite3:///absolute/path.db; query string ignored. */
export function sqlitePath(raw: string): string {
  const path = decodeURIComponent(raw.replace(/^sqlite3?:\/\//, '').replace(/\?.*$/, ''));
  if (!path) throw new FsError('EINVAL', { message: `no database path in '${raw}' (expected sqlite3://PATH.db)` });
  return path;
}

registerMeta('sqlite3', async (_url, raw) => new BaseMeta(new SqliteEngine(raw.replace(/\?.*$/, ''), sqlitePath(raw))));
registerMeta('sqlite', async (_url, raw) => new BaseMeta(new SqliteEngine(raw.replace(/\?.*$/, ''), sqlitePath(raw))));
