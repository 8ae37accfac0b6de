// The etcd engine: etcd://[user:pass@]HOST:2379[,HOST:2379...]/PREFIX (etcds:// or ?cacert= for TLS). Each
// transaction is optimistic (tx.ts) and commits with one etcd Txn that compares the mod revisions of what it
// read. etcd replicates with Raft: a transaction acknowledged here is on a majority of the members, and a
// client rides through a leader election (requests are retried until a leader answers, up to a deadline).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Etcd3, isRecoverableError, type ICompare, type IOptions, type IRangeRequest, type IRangeResponse, type IRequestOp, type ITxnResponse } from 'etcd3';
import { FsError } from '../../../errors.js';
import { resolvedMutations } from '../../assigned.js';
import { BaseMeta } from '../../base/index.js';
import { registerMeta } from '../../registry.js';
import type { Engine, Tx } from '../../tx.js';
import { Keys, prefixEnd } from './keys.js';
import { type EtcdConn, EtcdTx } from './tx.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gives up on a transaction that keeps conflicting this many times (a live-lock, not contention). */
const MAX_ATTEMPTS = 2000;
/** How long a request is retried while no member answers (an election takes about a second); ?timeout=S. */
const UNAVAILABLE_MS = 30_000;
/** Commits retried when only blind counters moved, before the whole transaction runs again. */
const COUNTER_RETRIES = 8;

const MOD = 2; // CompareTarget.Mod
const EQUAL = 0;
const LESS = 2;

class Conflict {
  readonly conflict = true;
}

/** One-at-a-time queue: a transaction that lost a conflict retries here, so a client's own hot spots queue. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/** An error that may pass once a leader is elected or a member restarts (the request may have applied). */
function transient(e: unknown): boolean {
  if (isRecoverableError(e as Error)) return true;
  const msg = (e as Error)?.message ?? '';
  return /no leader|leader changed|timed out|timeout|unavailable|ECONNREFUSED|ECONNRESET|not capable|too many requests|Deadline|circuit breaker/i.test(msg);
}

export interface EtcdSettings {
  hosts: string[];
  prefix: string;
  options: IOptions;
  /** How long a request is retried while no member answers. */
  timeoutMs: number;
}

export class EtcdEngine implements Engine, EtcdConn {
  readonly name = 'etcd';
  readonly keys: Keys;
  readonly client: Etcd3;
  /** Requests sent (reads and commits): for tests and benchmarks. */
  requests = 0;
  /** Transaction attempts lost to a conflict (rerun). */
  conflicts = 0;
  /** Requests retried because no member answered (leader elections, restarts). */
  retried = 0;
  /** Commits whose reply was lost (or that the driver sent twice) found applied by the marker. */
  recovered = 0;
  /** Last known value and mod revision of the counters this client increments blindly. */
  private readonly counterCache = new Map<string, { value: number; mod: string }>();
  private readonly lane = new Lane();
  private readonly id = randomBytes(8).toString('hex');
  private nonce = 0;
  private readonly where: string;
  private readonly timeoutMs: number;

  constructor(readonly url: string, s: EtcdSettings) {
    this.keys = new Keys(s.prefix);
    this.where = s.hosts.join(',');
    this.timeoutMs = s.timeoutMs;
    this.client = new Etcd3({ ...s.options, hosts: s.hosts, dialTimeout: 5000 });
  }

  /** Driver errors become one-line FsErrors. */
  private mapError(e: unknown): unknown {
    if (e instanceof FsError || e instanceof Conflict) return e;
    const msg = ((e as Error)?.message ?? String(e)).split('\n')[0]!;
    if (/authentication failed|invalid auth|permission denied|user name is empty|auth/i.test(msg) && !transient(e)) {
      return new FsError('EACCES', { message: `etcd at ${this.where} refused the credentials: ${msg}`, cause: e });
    }
    if (/too many operations|request is too large|message larger than max|exceeds the maximum|database space exceeded/i.test(msg)) {
      return new FsError('EIO', {
        message: `etcd at ${this.where}: ${msg} (raise --max-txn-ops / --max-request-bytes / --quota-backend-bytes, see docs/engines.md)`,
        cause: e,
      });
    }
    if (transient(e)) return new FsError('EIO', { message: `cannot reach etcd at ${this.where}: ${msg}`, cause: e });
    return new FsError('EIO', { message: `etcd at ${this.where}: ${msg}`, cause: e });
  }

  /** Runs a request, retrying transient failures for up to the timeout. Only for idempotent requests. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      try {
        this.requests++;
        return await fn();
      } catch (e) {
        if (/compacted/i.test((e as Error)?.message ?? '')) throw new Conflict();
        if (!transient(e) || Date.now() + wait > deadline) throw this.mapError(e);
        this.retried++;
        await sleep(wait);
      }
    }
  }

  range(req: IRangeRequest): Promise<IRangeResponse> {
    return this.retrying(() => this.client.kv.range(req));
  }

  async rangeMany(reqs: IRangeRequest[]): Promise<IRangeResponse[]> {
    if (!reqs.length) return [];
    const r = await this.retrying(() => this.client.kv.txn({ success: reqs.map((q) => ({ request_range: q })) }));
    return r.responses.map((x) => x.response_range);
  }

  /** The current value and mod revision of counters, in one request. */
  private async fetchCounters(names: string[]): Promise<void> {
    if (!names.length) return;
    const rs = await this.rangeMany(names.map((n) => ({ key: this.keys.counter(n) })));
    names.forEach((n, i) => this.learnCounter(n, rs[i]!));
  }

  private learnCounter(name: string, r: IRangeResponse): void {
    const kv = r.kvs[0];
    this.counterCache.set(name, kv ? { value: Number(kv.value.toString()), mod: kv.mod_revision } : { value: 0, mod: '0' });
  }

  /**
   * Sends a commit. A reply lost to a failure (leader killed, member restarted) leaves it unknown whether
   * it applied: the client's marker key then tells, once a member answers again.
   */
  private async send(ops: { compare: ICompare[]; success: IRequestOp[]; failure: IRequestOp[] }, nonce: string): Promise<ITxnResponse | 'applied' | 'lost'> {
    try {
      this.requests++;
      return await this.client.kv.txn(ops);
    } catch (e) {
      if (!transient(e)) throw this.mapError(e);
      this.retried++;
      const r = await this.range({ key: this.keys.marker(this.id) });
      if (r.kvs[0]?.value.toString() !== nonce) return 'lost';
      this.recovered++;
      return 'applied';
    }
  }

  /** One commit of a transaction that wrote; a Conflict when a read no longer holds. */
  private async commit(tx: EtcdTx): Promise<Conflict | undefined> {
    const k = this.keys;
    const blind = [...tx.counters].filter(([, st]) => st.pending.length > 0).map(([name]) => name);
    await this.fetchCounters(blind.filter((n) => !this.counterCache.has(n)));
    const compare: ICompare[] = [];
    for (const [key, mod] of tx.reads) compare.push({ key: Buffer.from(key, 'latin1'), target: MOD, result: EQUAL, mod_revision: mod });
    const next = String(BigInt(tx.rev ?? '0') + 1n);
    for (const r of tx.rangeChecks) compare.push({ key: r.start, range_end: r.end, target: MOD, result: LESS, mod_revision: next });
    const failure: IRequestOp[] = [...blind.map((n) => ({ request_range: { key: k.counter(n) } })), { request_range: { key: k.marker(this.id) } }];
    for (let round = 0; round <= COUNTER_RETRIES; round++) {
      const used = new Map(blind.map((n) => [n, this.counterCache.get(n)!]));
      const success: IRequestOp[] = [];
      for (const [key, v] of tx.writes) {
        const kb = Buffer.from(key, 'latin1');
        success.push(v === null ? { request_delete_range: { key: kb } } : { request_put: { key: kb, value: v } });
      }
      const counterCompares: ICompare[] = [];
      for (const name of blind) {
        const st = tx.counters.get(name)!;
        const base = used.get(name)!.value;
        for (const p of st.pending) p.a.resolve(base + p.upTo);
        success.push({ request_put: { key: k.counter(name), value: Buffer.from(String(base + st.delta)) } });
        counterCompares.push({ key: k.counter(name), target: MOD, result: EQUAL, mod_revision: used.get(name)!.mod });
      }
      for (const l of tx.logs) {
        const record = JSON.stringify([l.ts, l.op, JSON.stringify(resolvedMutations(l.mutations))]);
        success.push({ request_put: { key: k.change(l.version.value), value: Buffer.from(record) } });
      }
      const nonce = `${++this.nonce}`;
      success.push({ request_put: { key: k.marker(this.id), value: Buffer.from(nonce) } });
      const r = await this.send({ compare: [...compare, ...counterCompares], success, failure }, nonce);
      if (r === 'lost') return new Conflict();
      if (r === 'applied' || r.succeeded) {
        const rev = r === 'applied' ? undefined : r.header.revision;
        for (const name of blind) {
          const st = tx.counters.get(name)!;
          if (rev) this.counterCache.set(name, { value: used.get(name)!.value + st.delta, mod: rev });
          else this.counterCache.delete(name);
        }
        return undefined;
      }
      // Failed: did an earlier send of this same request apply (a retry inside the driver)? Else, if a
      // blind counter moved, commit again with its new value; if none did, a read no longer holds.
      const res = r.responses.map((x) => x.response_range);
      if (res[blind.length]!.kvs[0]?.value.toString() === nonce) {
        this.recovered++;
        for (const name of blind) this.counterCache.delete(name);
        return undefined;
      }
      let moved = false;
      blind.forEach((n, i) => {
        this.learnCounter(n, res[i]!);
        if (this.counterCache.get(n)!.mod !== used.get(n)!.mod) moved = true;
      });
      if (!moved) return new Conflict();
    }
    return new Conflict();
  }

  private async attempt<T>(fn: (tx: Tx) => Promise<T>): Promise<{ value: T } | Conflict> {
    const tx = new EtcdTx(this, true);
    let value: T;
    try {
      // Reads are one snapshot: an error fn throws comes from a state that existed, so it is reported.
      value = await fn(tx);
    } catch (e) {
      if (e instanceof Conflict) return e;
      throw e;
    }
    if (!tx.hasWrites) return { value };
    const c = await this.commit(tx);
    return c ?? { value };
  }

  async txn<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let i = 0, wait = 1; ; i++, wait = Math.min(wait * 2, 50)) {
      const r = i === 0 ? await this.attempt(fn) : await this.lane.run(() => this.attempt(fn));
      if (!(r instanceof Conflict)) return r.value;
      this.conflicts++;
      if (i >= MAX_ATTEMPTS) throw new FsError('EIO', { message: `etcd transaction kept conflicting (${i} attempts)` });
      if (i > 0) await sleep(wait * Math.random());
    }
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn(new EtcdTx(this, false));
      } catch (e) {
        if (!(e instanceof Conflict)) throw e; // the snapshot was compacted meanwhile: read again
      }
    }
  }

  async createSchema(): Promise<void> {
    await this.range({ key: this.keys.setting() });
  }

  async dropSchema(): Promise<void> {
    const [key, end] = this.keys.all;
    await this.retrying(() => this.client.kv.deleteRange({ key, range_end: end }));
    this.counterCache.clear();
  }

  async readChangelog(from: number, limit: number): Promise<Array<{ version: number; op: string; ts: number; record: string }>> {
    const k = this.keys;
    const r = await this.range({ key: k.change(Math.max(0, Math.floor(from) + 1)), range_end: prefixEnd(k.kind('L')), limit: Math.max(1, Math.floor(limit)) });
    return r.kvs.map((kv) => {
      const [ts, op, record] = JSON.parse(kv.value.toString()) as [number, string, string];
      return { version: k.num(kv.key, 0), op, ts, record };
    });
  }

  async trimChangelog(upTo: number): Promise<number> {
    const k = this.keys;
    if (upTo < 1) return 0;
    const r = await this.retrying(() => this.client.kv.deleteRange({ key: k.kind('L'), range_end: k.change(Math.floor(upTo) + 1) }));
    return Number(r.deleted);
  }

  async close(): Promise<void> {
    // The marker only matters while this client may lose a reply; best effort, a dead cluster is not waited for.
    await Promise.race([this.client.kv.deleteRange({ key: this.keys.marker(this.id) }).catch(() => undefined), sleep(1000)]);
    this.client.close();
  }
}

const readPem = (path: string, what: string): Buffer => {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FsError('EINVAL', { message: `cannot read the etcd ${what} '${path}': ${(e as Error).message}` });
  }
};

/**
 * etcd://[user:pass@]HOST[:PORT][,HOST[:PORT]...][/PREFIX][?cacert=PEM&cert=PEM&key=PEM&server-name=NAME&timeout=S]
 * (etcds:// for TLS with the system's CAs). The URL kept for display has no password.
 */
export function parseEtcdUrl(raw: string): { settings: EtcdSettings; shown: string } {
  const m = /^(etcds?):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(raw);
  if (!m) throw new FsError('EINVAL', { message: `invalid etcd URL '${raw}' (expected etcd://HOST:2379[,HOST:2379...]/PREFIX)` });
  const [, scheme, userinfo, hostList, path, query] = m;
  const shown = userinfo?.includes(':') ? raw.replace(/\/\/[^@/]*@/, `//${userinfo.slice(0, userinfo.indexOf(':'))}@`) : raw;
  const params = new URLSearchParams(query ?? '');
  for (const p of params.keys()) {
    if (!['cacert', 'cert', 'key', 'server-name', 'timeout'].includes(p)) {
      throw new FsError('EINVAL', { message: `unknown etcd URL option '${p}' in '${shown}' (known: cacert, cert, key, server-name, timeout)` });
    }
  }
  const timeout = params.get('timeout');
  if (timeout !== null && !/^\d+(\.\d+)?$/.test(timeout)) throw new FsError('EINVAL', { message: `invalid timeout '${timeout}' in '${shown}' (seconds)` });
  const timeoutMs = timeout === null ? UNAVAILABLE_MS : Number(timeout) * 1000;
  const tls = scheme!.toLowerCase() === 'etcds' || params.has('cacert') || params.has('cert');
  const hosts = hostList!.split(',').filter(Boolean).map((h) => {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(h)) throw new FsError('EINVAL', { message: `invalid etcd host '${h}' in '${shown}'` });
    return `${tls ? 'https' : 'http'}://${/:\d+$/.test(h) ? h : `${h}:2379`}`;
  });
  if (!hosts.length) throw new FsError('EINVAL', { message: `no host in '${shown}' (expected etcd://HOST:2379/PREFIX)` });
  const prefix = decodeURIComponent((path ?? '').replace(/^\/+|\/+$/g, '')) || 'ferry';
  if (prefix.includes('\0')) throw new FsError('EINVAL', { message: `invalid etcd prefix in '${shown}'` });
  const options: IOptions = { hosts };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    options.auth = {
      username: decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)),
      password: colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1)),
    };
  }
  if (params.has('cacert') || params.has('cert')) {
    const cert = params.get('cert');
    const key = params.get('key');
    if (!!cert !== !!key) throw new FsError('EINVAL', { message: `etcd URL '${shown}': cert and key go together` });
    options.credentials = {
      rootCertificate: params.has('cacert') ? readPem(params.get('cacert')!, 'CA certificate') : (undefined as unknown as Buffer),
      ...(cert ? { certChain: readPem(cert, 'certificate'), privateKey: readPem(key!, 'key') } : {}),
    };
  }
  const name = params.get('server-name');
  if (name) options.grpcOptions = { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name };
  return { settings: { hosts, prefix, options, timeoutMs }, shown };
}

for (const scheme of ['etcd', 'etcds']) {
  registerMeta(scheme, async (_url, raw) => {
    const { settings, shown } = parseEtcdUrl(raw);
    return new BaseMeta(new EtcdEngine(shown, settings));
  });
}
