// The Redis engine: redis://[user:pass@]HOST:PORT/DB?prefix=NAME (rediss:// for TLS), or through Sentinel
// as JuiceFS writes it: redis://[:pass@]MASTER,SENTINEL1:26379,SENTINEL2:26379/DB (the client asks the
// sentinels for the master and follows a failover). One multiplexed connection per client; each transaction
// is optimistic (see tx.ts) and commits with one script call.
//
// A lost connection (the master died, a failover is under way) is retried for up to RECONNECT_WINDOW_MS: a
// transaction that had not sent its commit is re-run from its reads; a commit whose reply was lost is sent
// again with the same id, and the script returns the recorded reply instead of applying it twice (see
// scripts.ts COMMIT). Redis replicates
// asynchronously, so a commit acknowledged by a master that dies before its replica got it is lost in the
// failover; ?wait=N makes each commit wait (WAIT) until N replicas have it before it is acknowledged.
import { randomBytes } from 'node:crypto';
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
/** How long a transaction keeps retrying while Redis cannot be reached (a failover takes a few seconds). */
export const RECONNECT_WINDOW_MS = 60_000;
/** Errors that mean "not reachable now" rather than "refused": the operation may be retried. */
const unreachable = new WeakSet<object>();
/** Replies of a server that is not (or no longer) a usable master: reconnect (through the sentinels) and resend. */
const NOT_MASTER = /^(READONLY|LOADING|MASTERDOWN)/;

/** Commit durability: wait for this many replicas (WAIT) before acknowledging, for up to timeoutMs. */
export interface WaitOption {
  replicas: number;
  timeoutMs: number;
}

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

  /** Transactions, reads or commits sent again after Redis could not be reached: for tests and benchmarks. */
  reconnectRetries = 0;
  /** This client's done hash (scripts.ts COMMIT), its commit ids, and the ids whose replies arrived. */
  private readonly doneKey: string;
  private commitSeq = 0;
  private readonly forget: string[] = [];
  /** Set once a connection was ready: later failures are outages to wait out. */
  private connected = false;

  constructor(readonly url: string, opts: RedisOptions, prefix: string, readonly wait?: WaitOption) {
    this.keys = new Keys(prefix);
    this.doneKey = this.keys.txDone(randomBytes(8).toString('hex'));
    this.where = opts.sentinels ? `master '${opts.name}' of sentinels ${opts.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}` : `${opts.host}:${opts.port}`;
    this.client = new Redis({
      ...opts,
      lazyConnect: true,
      connectTimeout: 5000,
      // Fail a command after a few reconnect attempts instead of queueing it forever; keep reconnecting.
      // txn() and read() retry such a failure for RECONNECT_WINDOW_MS.
      maxRetriesPerRequest: 2,
      retryStrategy: (n) => Math.min(n * 100, 1000),
      // A demoted master (after a failover it comes back as a replica) refuses writes: reconnect through
      // the sentinels and resend. The refused command did nothing, so resending it is safe.
      reconnectOnError: (e) => (NOT_MASTER.test(e.message) ? 2 : false),
      ...(opts.sentinels ? { failoverDetector: true, sentinelRetryStrategy: (n: number) => Math.min(n * 100, 1000) } : {}),
    }) as Scripted;
    this.client.on('ready', () => {
      this.connected = true;
    });
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
    if ((e as Error)?.name === 'ReplyError' && !NOT_MASTER.test(msg)) return new FsError('EIO', { message: `Redis at ${this.where}: ${msg}`, cause: e });
    const why = this.lastError?.message ?? msg;
    const err = new FsError('EIO', { message: `cannot reach Redis at ${this.where}: ${why}`, cause: e });
    unreachable.add(err);
    return err;
  }

  /** Whether Redis cannot be reached now after it was once (a first connection that fails is a wrong address: no waiting). */
  private outage(e: unknown, since: number): boolean {
    return this.connected && unreachable.has(e as object) && Date.now() - since <= RECONNECT_WINDOW_MS;
  }

  /** Runs fn again while Redis cannot be reached, for up to RECONNECT_WINDOW_MS. */
  private async reconnecting<T>(fn: () => Promise<T>): Promise<T> {
    const start = Date.now();
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!this.outage(e, start)) throw e;
        this.reconnectRetries++;
        await sleep(Math.min(50 * 2 ** i, 500));
      }
    }
  }

  /**
   * ?wait=N: the commit is acknowledged once N replicas have it. WAIT covers every write this connection
   * sent so far; it is asked again (in slices of a second) until the replicas have it or the time is up.
   */
  private async waitReplicas(): Promise<void> {
    const w = this.wait!;
    const start = Date.now();
    for (;;) {
      const slice = Math.max(1, Math.min(1000, w.timeoutMs - (Date.now() - start)));
      const n = Number(await this.call('WAIT', w.replicas, slice));
      if (n >= w.replicas) return;
      if (Date.now() - start >= w.timeoutMs) {
        throw new FsError('EIO', {
          message: `Redis at ${this.where}: a commit reached ${n} of ${w.replicas} replica(s) in ${w.timeoutMs} ms (?wait=${w.replicas}); it is applied on the master but may not survive a failover`,
        });
      }
    }
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

  /**
   * Runs the commit script: checks then writes. Returns the INCRBY results, or undefined on a conflict.
   * A commit with writes carries an id, so it can be sent again when its outcome is unknown (the connection
   * broke before the reply, or before ?wait=N was confirmed): the script returns the recorded reply if the
   * first send was applied (and, after a failover, survived), else it runs now. Re-running the transaction
   * instead could apply it twice (an append, a counter).
   */
  private async commit(tx: RedisTx, withWrites: boolean): Promise<number[] | undefined> {
    const txid = withWrites ? `${++this.commitSeq}` : '';
    const forget = this.forget.splice(0, this.forget.length);
    const args: Arg[] = [this.doneKey, txid, forget.length, ...forget, tx.checks.length];
    for (const c of tx.checks) args.push(c[0]!, c.length - 1, ...c.slice(1));
    if (withWrites) for (const w of tx.writes) args.push(w[0]!, w.length - 1, ...w.slice(1));
    const start = Date.now();
    for (let i = 0; ; i++) {
      let r: number | number[];
      try {
        r = await this.client.ferryCommit(this.keys.setting, ...args);
        if (!Array.isArray(r)) return undefined;
        if (withWrites && this.wait) await this.waitReplicas();
      } catch (e) {
        const err = this.mapError(e);
        if (!withWrites || !this.outage(err, start)) throw err;
        this.reconnectRetries++;
        await sleep(Math.min(50 * 2 ** i, 500));
        continue;
      }
      if (txid) this.forget.push(txid);
      return r.slice(1).map(Number);
    }
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
    // Re-running the whole transaction after a lost connection is safe: see the head of this file.
    return this.reconnecting(() => this.txnAttempts(fn));
  }

  private async txnAttempts<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
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
    return this.reconnecting(() => fn(new RedisTx(this, false)));
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
      // disconnect() below
    }
    // Also ends the sentinel connections of ioredis's failover detector, which quit() leaves open.
    this.client.disconnect();
  }
}

/** The URL with its password left out (also with a host list, which new URL() cannot parse). */
const hidePassword = (raw: string) => raw.replace(/\/\/[^@/]*@/, '//');

/**
 * redis://[user:pass@]HOST[:PORT][/DB][?prefix=NAME&wait=N&wait-timeout=MS], or with Sentinel
 * redis://[user:pass@]MASTER,SENTINEL[:26379],.../DB (JuiceFS's form; the sentinels' own password, if any,
 * comes from SENTINEL_PASSWORD as in JuiceFS). The URL kept for display has no credentials.
 */
export function parseRedisUrl(raw: string, url: URL): { opts: RedisOptions; prefix: string; shown: string; wait?: WaitOption } {
  const shown = hidePassword(raw);
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) {
    throw new FsError('EINVAL', { message: `invalid Redis database '${db}' in '${shown}' (expected redis://HOST:PORT/NUMBER)` });
  }
  const hostList = /^[a-z]+:\/\/(?:[^@/]*@)?([^/?#]*)/i.exec(raw)?.[1] ?? '';
  const opts: RedisOptions = { db: db ? Number(db) : 0 };
  if (hostList.includes(',')) {
    const [name, ...addrs] = hostList.split(',');
    if (!name || name.includes(':') || !addrs.length) {
      throw new FsError('EINVAL', { message: `invalid Redis Sentinel address in '${shown}' (expected redis://[:PASSWORD@]MASTERNAME,SENTINEL1:26379,SENTINEL2:26379/DB)` });
    }
    opts.name = decodeURIComponent(name);
    opts.sentinels = addrs.map((a) => {
      const m = /^(\[[^\]]+\]|[^:\[\]]+)(?::(\d+))?$/.exec(a);
      if (!m) throw new FsError('EINVAL', { message: `invalid sentinel address '${a}' in '${shown}' (expected HOST[:PORT])` });
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 26379 };
    });
    if (process.env.SENTINEL_PASSWORD) opts.sentinelPassword = process.env.SENTINEL_PASSWORD;
  } else {
    if (!url.hostname) throw new FsError('EINVAL', { message: `no host in '${shown}' (expected redis://HOST:PORT/DB)` });
    opts.host = url.hostname.replace(/^\[|\]$/g, '');
    opts.port = url.port ? Number(url.port) : 6379;
  }
  if (url.username) opts.username = decodeURIComponent(url.username);
  if (url.password) opts.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') {
    opts.tls = {};
    if (opts.sentinels) opts.enableTLSForSentinelMode = true;
  }
  const prefix = url.searchParams.get('prefix') ?? 'ferry';
  if (!prefix || /[{}]/.test(prefix)) throw new FsError('EINVAL', { message: `invalid prefix '${prefix}' (no braces)` });
  let wait: WaitOption | undefined;
  const w = url.searchParams.get('wait');
  if (w !== null) {
    const t = url.searchParams.get('wait-timeout') ?? '10000';
    if (!/^\d+$/.test(w) || Number(w) > 100) throw new FsError('EINVAL', { message: `invalid wait '${w}' in '${shown}' (a number of replicas, 0..100)` });
    if (!/^\d+$/.test(t) || Number(t) < 1) throw new FsError('EINVAL', { message: `invalid wait-timeout '${t}' in '${shown}' (milliseconds, at least 1)` });
    if (Number(w) > 0) wait = { replicas: Number(w), timeoutMs: Number(t) };
  }
  return { opts, prefix, shown, ...(wait ? { wait } : {}) };
}

for (const scheme of ['redis', 'rediss']) {
  registerMeta(scheme, async (url, raw) => {
    const { opts, prefix, shown, wait } = parseRedisUrl(raw, url);
    return new BaseMeta(new RedisEngine(shown, opts, prefix, wait));
  });
}
