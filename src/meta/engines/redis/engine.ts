// The Redis engine: redis://[user:pass@]HOST:PORT/DB?prefix=NAME (rediss:// for TLS). One multiplexed
// connection per client; each transaction is optimistic (see tx.ts) and commits with one script call.
import { Redis, type RedisOptions } from 'ioredis';
import { FsError } from '../../../errors.js';
import { BaseMeta } from '../../base/index.js';
import { registerMeta } from '../../registry.js';
import type { Engine, Tx } from '../../tx.js';
import { Keys } from './keys.js';
import { COMMIT, LOOKUP, READDIR } from './scripts.js';
import { type Arg, emptyKey, fieldKey, type RedisConn, RedisTx, ValueCache } from './tx.js';
import { TYPE_DIRECTORY, TYPE_FILE } from '../../types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gives up on a transaction that keeps conflicting for this long (a live-lock, not contention). */
const MAX_ATTEMPTS = 2000;

type Scripted = Redis & {
  ferryCommit(key: string, ...args: Arg[]): Promise<number | number[]>;
  ferryLookupBuffer(key: string, ...args: Arg[]): Promise<[Buffer?, Buffer?]>;
  ferryReaddirBuffer(key: string, ...args: Arg[]): Promise<Buffer[]>;
};

class Conflict {
  readonly conflict = true;
}

/** One-at-a-time queue: a transaction that lost a conflict retries here, so a client's own hot spots queue instead of spinning. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

export class RedisEngine implements Engine, RedisConn {
  readonly name = 'redis';
  readonly keys: Keys;
  readonly client: Scripted;
  /** Commands sent (each a round trip unless several are in flight at once): for tests and benchmarks. */
  commands = 0;
  /** Transaction attempts lost to a conflict (retried). */
  conflicts = 0;
  readonly cache = new ValueCache(50_000);
  private lastError?: Error;
  private readonly lane = new Lane();
  private readonly where: string;

  constructor(readonly url: string, opts: RedisOptions, prefix: string) {
    this.keys = new Keys(prefix);
    this.where = `${opts.host}:${opts.port}`;
    this.client = new Redis({
      ...opts,
      lazyConnect: true,
      connectTimeout: 5000,
      // Fail a command after a few reconnect attempts instead of queueing it forever; keep reconnecting.
      maxRetriesPerRequest: 2,
      retryStrategy: (n) => Math.min(n * 200, 2000),
    }) as Scripted;
    this.client.on('error', (e: Error) => {
      this.lastError = e;
    });
    this.client.defineCommand('ferryCommit', { numberOfKeys: 1, lua: COMMIT });
    this.client.defineCommand('ferryLookup', { numberOfKeys: 1, lua: LOOKUP });
    this.client.defineCommand('ferryReaddir', { numberOfKeys: 1, lua: READDIR });
    const send = this.client.sendCommand.bind(this.client);
    this.client.sendCommand = ((...a: Parameters<Redis['sendCommand']>) => {
      this.commands++;
      return send(...a);
    }) as Redis['sendCommand'];
  }

  /** Driver errors become one-line FsErrors. */
  private mapError(e: unknown): unknown {
    if (e instanceof FsError || e instanceof Conflict) return e;
    const msg = (e as Error)?.message ?? String(e);
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(msg)) {
      return new FsError('EACCES', { message: `Redis at ${this.where} refused the credentials: ${msg}`, cause: e });
    }
    if ((e as Error)?.name === 'ReplyError') return new FsError('EIO', { message: `Redis at ${this.where}: ${msg}`, cause: e });
    const why = this.lastError?.message ?? msg;
    return new FsError('EIO', { message: `cannot reach Redis at ${this.where}: ${why}`, cause: e });
  }

  async call(cmd: string, ...args: Arg[]): Promise<any> {
    try {
      return await this.client.callBuffer(cmd, ...args);
    } catch (e) {
      throw this.mapError(e);
    }
  }

  async lookupScript(dir: string, name: string, parentAttr: string): Promise<[Buffer, Buffer | null]> {
    try {
      const [m, a] = await this.client.ferryLookupBuffer(dir, name, this.keys.attrPrefix, parentAttr);
      return [m!, a ?? null];
    } catch (e) {
      throw this.mapError(e);
    }
  }

  async readdirScript(dir: string, min: Buffer, count: number, plus: boolean): Promise<Buffer[]> {
    try {
      return await this.client.ferryReaddirBuffer(dir, min, count, plus ? '1' : '0', this.keys.attrPrefix);
    } catch (e) {
      throw this.mapError(e);
    }
  }

  /** Runs the commit script: checks then writes. Returns the INCRBY results, or undefined on a conflict. */
  private async commit(tx: RedisTx, withWrites: boolean): Promise<number[] | undefined> {
    const args: Arg[] = [tx.checks.length];
    for (const c of tx.checks) args.push(c[0]!, c.length - 1, ...c.slice(1));
    if (withWrites) for (const w of tx.writes) args.push(w[0]!, w.length - 1, ...w.slice(1));
    let r: number | number[];
    try {
      r = await this.client.ferryCommit(this.keys.setting, ...args);
    } catch (e) {
      throw this.mapError(e);
    }
    return Array.isArray(r) ? r.slice(1).map(Number) : undefined;
  }

  /** After a commit: what this client wrote is what a next transaction will most likely read. */
  private learn(tx: RedisTx, incrs: number[]): void {
    const c = this.cache;
    const k = this.keys;
    // A new inode has no xattrs, no chunk and (a directory) no entries; fresh slice ids have no references.
    // Only hints: a wrong one costs one failed commit.
    for (const [ino, type] of tx.newInodes) {
      c.set(emptyKey(k.xattr(ino)), Buffer.alloc(0));
      if (type === TYPE_DIRECTORY) c.set(emptyKey(k.dir(ino)), Buffer.alloc(0));
      if (type === TYPE_FILE) c.set(k.chunk(ino, 0), null);
    }
    let n = 0;
    for (const w of tx.writes) {
      const [op, key, a] = w as [string, string, Arg];
      if (op !== 'incr') continue;
      const last = incrs[n++]!;
      if (key === k.counter('nextSlice') && Number(a) <= 10_000) {
        for (let id = last - Number(a) + 1; id <= last; id++) c.set(fieldKey(k.sliceRefs, String(id)), null);
      }
    }
    for (const w of tx.writes) {
      const [op, k, a, b] = w as [string, string, Arg, Arg];
      if (op === 'hset' || op === 'ent') c.delete(emptyKey(k));
      if (op === 'set') c.set(k, a as Buffer);
      else if (op === 'del') c.set(k, null);
      else if (op === 'append') {
        const old = c.get(k);
        if (old !== undefined) c.set(k, Buffer.concat([old ?? Buffer.alloc(0), a as Buffer]));
      } else if (op === 'hset') c.set(fieldKey(k, String(a)), Buffer.isBuffer(b) ? b : Buffer.from(String(b)));
      else if (op === 'hdel') c.set(fieldKey(k, String(a)), null);
      else if (op === 'ent') c.set(fieldKey(k, String(a)), b as Buffer);
      else if (op === 'unent') c.set(fieldKey(k, String(a)), null);
    }
  }

  private async attempt<T>(fn: (tx: Tx) => Promise<T>, useCache: boolean, guessAbsent = false): Promise<{ value: T } | Conflict> {
    const tx = new RedisTx(this, true, useCache, guessAbsent);
    const conflict = () => {
      for (const ck of tx.cachedReads) this.cache.delete(ck);
      return new Conflict();
    };
    let value: T;
    try {
      value = await fn(tx);
    } catch (e) {
      // The reads were not a snapshot (and may come from the cache): an error may come from a state
      // that never existed. Only report it if everything read still holds.
      if ((tx.checks.length > 1 || tx.cachedReads.length) && !(await this.commit(tx, false))) return conflict();
      throw e;
    }
    if (tx.writes.length === 0 && tx.checks.length <= 1 && !tx.cachedReads.length) return { value };
    const incrs = await this.commit(tx, true);
    if (!incrs) return conflict();
    tx.resolveAssigned(incrs);
    this.learn(tx, incrs);
    return { value };
  }

  async txn<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let i = 0, wait = 1; ; i++, wait = Math.min(wait * 2, 50)) {
      // Retries run one at a time; the first two attempts may take reads from the cache (in the lane it
      // holds the previous commit of this client), later ones read Redis. Only the first guesses names.
      const r = i === 0 ? await this.attempt(fn, true, true) : await this.lane.run(() => this.attempt(fn, i === 1));
      if (!(r instanceof Conflict)) return r.value;
      this.conflicts++;
      if (i >= MAX_ATTEMPTS) throw new FsError('EIO', { message: `Redis transaction kept conflicting (${i} attempts)` });
      // Other clients' transactions may be in the way: back off with jitter outside the lane.
      if (i > 0) await sleep(wait * Math.random());
    }
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return fn(new RedisTx(this, false));
  }

  async createSchema(): Promise<void> {
    await this.call('PING');
  }

  async dropSchema(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.call('SCAN', cursor, 'MATCH', this.keys.pattern, 'COUNT', 1000)) as [Buffer, Buffer[]];
      cursor = next.toString();
      if (keys.length) await this.call('UNLINK', ...keys);
    } while (cursor !== '0');
  }

  async readChangelog(from: number, limit: number): Promise<Array<{ version: number; op: string; ts: number; record: string }>> {
    const r: Buffer[] = await this.call('ZRANGEBYSCORE', this.keys.changelog, `(${from}`, '+inf', 'LIMIT', 0, Math.floor(limit));
    return r.map((b) => {
      const s = b.toString();
      const sp = s.indexOf(' ');
      const [ts, op, record] = JSON.parse(s.slice(sp + 1)) as [number, string, string];
      return { version: Number(s.slice(0, sp)), op, ts, record };
    });
  }

  async trimChangelog(upTo: number): Promise<number> {
    return Number(await this.call('ZREMRANGEBYSCORE', this.keys.changelog, '-inf', upTo));
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status === 'wait') return this.client.disconnect(); // never connected
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** redis://[user:pass@]HOST[:PORT][/DB][?prefix=NAME]; the URL kept for display has no credentials. */
export function parseRedisUrl(raw: string, url: URL): { opts: RedisOptions; prefix: string; shown: string } {
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) {
    throw new FsError('EINVAL', { message: `invalid Redis database '${db}' in '${raw.replace(/\/\/[^@/]*@/, '//')}' (expected redis://HOST:PORT/NUMBER)` });
  }
  if (!url.hostname) throw new FsError('EINVAL', { message: `no host in '${raw}' (expected redis://HOST:PORT/DB)` });
  const opts: RedisOptions = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    db: db ? Number(db) : 0,
  };
  if (url.username) opts.username = decodeURIComponent(url.username);
  if (url.password) opts.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') opts.tls = {};
  const prefix = url.searchParams.get('prefix') ?? 'ferry';
  if (!prefix || /[{}]/.test(prefix)) throw new FsError('EINVAL', { message: `invalid prefix '${prefix}' (no braces)` });
  const shown = url.password ? raw.replace(/\/\/[^@/]*@/, '//') : raw;
  return { opts, prefix, shown };
}

for (const scheme of ['redis', 'rediss']) {
  registerMeta(scheme, async (url, raw) => {
    const { opts, prefix, shown } = parseRedisUrl(raw, url);
    return new BaseMeta(new RedisEngine(shown, opts, prefix));
  });
}
