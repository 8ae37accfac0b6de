// A cache group: clients (and dedicated `ferry cache serve` processes) of one volume in one region that
// share their caches. Members register through a metadata session carrying cacheGroup, groupAddress,
// region and zone, heartbeat it, and find each other with listSessions(). A consistent-hash ring maps each
// block key to its owner; a client asks the owner over HTTP/1.1 keep-alive:
//
//   GET    /block/<uri-encoded key>?off=N&len=N   the bytes (the owner fetches the whole block once)
//   GET    /block/<key>?off=N&len=N&check=crc32c  a range of a block the owner checked whole against the
//                                                 volume's block checksum, with `x-ferry-crc32c` of the range
//   GET    /block/<key>?warm=1                    204 once the owner holds the block (warm-up)
//   HEAD   /block/<key>                           200 if the owner holds it, 404 if not (warm-up --check)
//   DELETE /block/<key>                           the owner drops it (warm-up --evict)
//
// with header `x-ferry-volume: <uuid>`, so a member never answers for another volume, and signed with the
// volume's service secret (meta/service-auth.ts): a request without a valid credential gets 401/403. While a member gets the
// block it sends interim `102 Processing` lines. A member that sends nothing for the peer timeout (or refuses
// the connection) is skipped for a while and the client reads the object store itself; one whose heartbeat
// lapses leaves everyone's ring at the next refresh.
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { FsError, isFsError } from '../errors.js';
import { BackgroundErrors } from '../meta/background-errors.js';
import type { Meta } from '../meta/interface.js';
import type { SessionInfo } from '../meta/types.js';
import { request as httpsRequest } from 'node:https';
import { secretFromFormat, serviceAgent, serviceSecretsOf, serviceServer, ServiceVerifier, signRequest, tlsFromEnv, type ServiceCredential, type TlsFiles } from '../meta/service-auth.js';
import { HashRing, type RingMember } from './ring.js';
import { crc32c } from '../object/transforms/native.js';

/** The header carrying the crc32c of a checked range, as 8 hex digits. */
const RANGE_SUM = 'x-ferry-crc32c';

/** What a member serves peers from: its own caches and the object store, never another member. */
export interface BlockSource {
  localBlock(key: string): Promise<Buffer>;
  /** A range of the block, without reading or copying the rest where the source can. */
  localRange?(key: string, off: number, len: number): Promise<Buffer>;
  /** A range of a block checked against the volume's block checksum (CachedObjectStore.checkedRange). */
  checkedRange?(key: string, off: number, len: number): Promise<Buffer>;
  has(key: string): boolean;
  drop(key: string): Promise<void>;
}

export interface GroupOptions {
  /** The group's name: members of different groups never talk. */
  name: string;
  /** Where this member listens and what it advertises, host:port (default 127.0.0.1 and a free port). */
  address?: string;
  region?: string;
  zone?: string;
  /** Members asked for a block, owner first (default 1). */
  replicas?: number;
  /** false: use the group but neither serve nor register (`--no-sharing`, warm-up). */
  member?: boolean;
  /** A peer that sends nothing (no byte, no 102) for this long is skipped once it also left the ring (its
   *  heartbeat lapsed): silence alone means a slow member (default 5000 ms; keep it above 250 ms). */
  peerTimeoutMs?: number;
  /** How long a peer that failed is skipped before it is tried again (default 10 s). */
  downMs?: number;
  heartbeatMs?: number;
  /** A member whose heartbeat is older than this is out of the ring (default 4 heartbeats). */
  memberTimeoutMs?: number;
  /** How often the member list is read again (default 3 s). */
  refreshMs?: number;
  /** Shown as the session's mount point. */
  label?: string;
  /** Where failing heartbeats and member-list reads are reported, once per distinct error (default stderr). */
  log?: (line: string) => void;
  /** Serve blocks over TLS (cert + key; client certificates checked against ca). Peers serving TLS are checked against ca (else $FERRY_TLS_CA). */
  tls?: TlsFiles;
}

export interface GroupVolume {
  uuid: string;
  /** Key prefix of the volume's blocks: peers are asked for nothing else. */
  blockPrefix: string;
}

export interface GroupStats {
  served: number;
  servedBytes: number;
  peerRequests: number;
  peerFailures: number;
  /** Why peers were given up (a short reason -> count): what sent reads to the object store instead. */
  failureReasons: Record<string, number>;
}

/** While a member fetches a block for a peer, it tells the peer it is working this often (peer timeouts must be longer). */
const PROCESSING_MS = 250;

/** Failed requests to a member still in the ring asked again before its share is read from the store. */
const PEER_RETRIES = 2;

/** Warm-up, --check and --evict wait this long for a member (it may have to fetch the block first). */
const WARM_TIMEOUT_MS = 120_000;

export interface Member extends RingMember {
  address: string;
  region?: string;
  /** The member serves TLS. */
  tls?: boolean;
}

export class CacheGroup {
  readonly ring = new HashRing();
  readonly stats: GroupStats = { served: 0, servedBytes: 0, peerRequests: 0, peerFailures: 0, failureReasons: {} };
  /** This member's advertised address (undefined for a non-member). */
  address?: string;
  /** The hits and misses of the cache this member serves from (set by the CachedObjectStore it belongs to). */
  cacheStats?: () => { hits: number; misses: number };
  private reported = '';
  private server?: Server;
  // Idle sockets are closed here (timeout) well before the member's server closes them (keepAliveTimeout
  // 60 s): reusing a socket the server is closing at that moment fails with ECONNRESET.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000, timeout: 30_000 });
  private tlsAgent?: Agent;
  private readonly down = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private errors?: BackgroundErrors;
  private source?: BlockSource;
  private closed = false;
  /** What requests to members are signed with, and how a member checks them. */
  private readonly credential: ServiceCredential;
  private readonly verifier: ServiceVerifier;

  private constructor(
    readonly meta: Meta,
    readonly volume: GroupVolume,
    readonly opts: GroupOptions,
  ) {
    this.credential = secretFromFormat(meta, 10_000);
    this.verifier = new ServiceVerifier(() => serviceSecretsOf(meta));
  }

  /**
   * Joins (or, with member: false, only watches) the group. `meta` must be a connection of its own: a
   * member's session is the group registration, closed with the group.
   */
  /** Adds fields to this member's session record (e.g. where its metrics are served). */
  setSessionInfo(info: Record<string, unknown>): Promise<void> {
    return this.meta.setSessionInfo(info);
  }

  static async start(meta: Meta, volume: GroupVolume, opts: GroupOptions, source?: BlockSource): Promise<CacheGroup> {
    const g = new CacheGroup(meta, volume, opts);
    try {
      if (opts.member !== false) {
        if (!source) throw new Error('a cache group member needs a block source');
        g.source = source;
        await g.listen();
        await meta.newSession({
          mountPoint: opts.label ?? `cache-group:${opts.name}`,
          role: 'cache-member',
          cacheGroup: opts.name,
          groupAddress: g.address,
          ...(opts.tls?.cert ? { groupTls: true } : {}),
          region: opts.region,
          zone: opts.zone,
        });
        const hb = setInterval(() => void g.background('heartbeat', () => g.heartbeat()), opts.heartbeatMs ?? 5000);
        hb.unref();
        g.timers.push(hb);
      }
      await g.refresh();
      const rf = setInterval(() => void g.background('member list refresh', () => g.refresh()), opts.refreshMs ?? 3000);
      rf.unref();
      g.timers.push(rf);
      return g;
    } catch (e) {
      await g.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * A heartbeat carrying what this member served and its cache's hits (ferry status, the dashboard's ring
   * view) when they changed since the last one; a plain heartbeat otherwise.
   */
  private async heartbeat(): Promise<void> {
    const c = this.cacheStats?.();
    const report = { servedRequests: this.stats.served, servedBytes: this.stats.servedBytes, ...(c ? { cacheHits: c.hits, cacheMisses: c.misses } : {}) };
    const text = JSON.stringify(report);
    if (text === this.reported) return this.meta.heartbeat();
    await this.meta.setSessionInfo(report);
    this.reported = text;
  }

  /** Runs a periodic task; its errors are logged once each and kept in the member's session. */
  private background(job: string, fn: () => Promise<unknown>): Promise<void> {
    this.errors ??= new BackgroundErrors(this.meta, this.opts.log, () => `cache group ${this.opts.name}${this.address ? ` member ${this.address}` : ''}`);
    const errors = this.errors;
    return fn().then(
      () => errors.succeeded(`cache-group ${job}`),
      (e: unknown) => errors.failed(`cache-group ${job}`, e),
    );
  }

  get isMember(): boolean {
    return this.address !== undefined;
  }

  /** Reads the member list from the metadata and rebuilds the ring if it changed. */
  async refresh(): Promise<void> {
    const sessions = await this.meta.listSessions();
    const limit = Date.now() - (this.opts.memberTimeoutMs ?? 4 * (this.opts.heartbeatMs ?? 5000));
    const members: Member[] = [];
    const seen = new Set<string>();
    for (const s of sessions) {
      const m = memberOf(s, this.opts);
      if (!m || s.heartbeat < limit || seen.has(m.id)) continue;
      seen.add(m.id);
      members.push(m);
    }
    if (this.address && !seen.has(this.address)) {
      members.push({ id: this.address, address: this.address, zone: this.opts.zone, region: this.opts.region, tls: !!this.opts.tls?.cert });
    }
    this.ring.set(members);
  }

  members(): Member[] {
    return this.ring.list() as Member[];
  }

  /** The members to ask for a key, owner first. */
  owners(key: string): Member[] {
    return this.ring.owners(key, this.opts.replicas ?? 1) as Member[];
  }

  private alive(m: Member): boolean {
    const until = this.down.get(m.id);
    if (until === undefined) return true;
    if (Date.now() < until) return false;
    this.down.delete(m.id);
    return true;
  }

  /**
   * A block (or a range of it) from its owner, or undefined when this client should read the object store
   * itself: it owns the key, the group is empty, or the owners did not answer.
   */
  async fetch(key: string, off = 0, len = -1, checked = false): Promise<Buffer | undefined> {
    const query = checked ? `?off=${off}&len=${len}&check=crc32c` : len < 0 && off === 0 ? '' : `?off=${off}&len=${len}`;
    for (const m of this.owners(key)) {
      if (m.id === this.address) return undefined;
      if (!this.alive(m)) continue;
      for (let attempt = 0; ; attempt++) {
        let reason: string;
        let retry = false;
        try {
          const r = await this.call(m, 'GET', key, query);
          if (r.status === 200 && !checked) return r.body;
          if (r.status === 200) {
            // The range's own checksum: what the member checked is what arrived.
            const sum = r.headers[RANGE_SUM];
            if (typeof sum === 'string' && parseInt(sum, 16) === crc32c(r.body) >>> 0) return r.body;
            this.stats.peerFailures++;
            const why = typeof sum === 'string' ? 'range checksum mismatch' : 'range without a checksum';
            this.stats.failureReasons[why] = (this.stats.failureReasons[why] ?? 0) + 1;
            return undefined;
          }
          // 404: the owner found no such object; reading the store ourselves gives the authoritative error.
          if (r.status === 404) return undefined;
          // 5xx: the member is alive but could not get the block (its store read failed): no point asking again.
          reason = `status ${r.status}: ${r.body.toString().trim().slice(0, 80)}`;
        } catch (e) {
          reason = failureReason(e);
          // A reset or a cut answer is most often a kept-alive socket the member closed as we reused it, or a
          // moment of overload: the member is still in the ring, so ask it again on a fresh connection before
          // reading its share from the store (each give-up costs the object-store GETs the group exists to save).
          retry = attempt < PEER_RETRIES && this.inRing(m) && !isRefused(e);
        }
        this.stats.peerFailures++;
        this.stats.failureReasons[reason] = (this.stats.failureReasons[reason] ?? 0) + 1;
        if (retry) continue;
        this.down.set(m.id, Date.now() + (this.opts.downMs ?? 10_000));
        break;
      }
    }
    return undefined;
  }

  private inRing(m: Member): boolean {
    return this.ring.list().some((x) => x.id === m.id);
  }

  /** Has every owner of the key fetch and keep it (warm-up). True when at least one holds it now. */
  async warm(key: string): Promise<boolean> {
    let ok = false;
    for (const m of this.owners(key)) {
      if (m.id === this.address && this.source) {
        await this.source.localBlock(key);
        ok = true;
        continue;
      }
      const r = await this.call(m, 'GET', key, '?warm=1', WARM_TIMEOUT_MS);
      if (r.status === 204 || r.status === 200) ok = true;
      else if (r.status === 404) throw new FsError('ENOENT', { message: `block ${key} is missing from the object store` });
      else throw new FsError('EIO', { message: `cache member ${m.address} answered ${r.status} for ${key}` });
    }
    return ok;
  }

  /** Whether the key's owner holds it. */
  async cached(key: string): Promise<boolean> {
    const m = this.owners(key)[0];
    if (!m) return false;
    if (m.id === this.address && this.source) return this.source.has(key);
    const r = await this.call(m, 'HEAD', key, '', WARM_TIMEOUT_MS);
    return r.status === 200;
  }

  /** Has every owner drop the key. */
  async evict(key: string): Promise<void> {
    for (const m of this.owners(key)) {
      if (m.id === this.address && this.source) await this.source.drop(key);
      else await this.call(m, 'DELETE', key, '', WARM_TIMEOUT_MS);
    }
  }

  /**
   * A silent member that still heartbeats (it is in the ring) is slow — a loaded host — not dead: wait for
   * it until its heartbeat would lapse rather than read its share from the object store, which is what a
   * group exists to avoid. A hung or cut-off member leaves the ring at the next refresh and is given up.
   */
  private patientWith(m: Member, silentMs: number): boolean {
    const cap = (this.opts.memberTimeoutMs ?? 4 * (this.opts.heartbeatMs ?? 5000)) + (this.opts.refreshMs ?? 3000);
    return silentMs < cap && this.inRing(m);
  }

  private async call(m: Member, method: string, key: string, query: string, timeoutMs?: number): Promise<Answer> {
    const r = await this.send(m, method, key, query, timeoutMs, await this.credential.secret());
    // Refused: the service secret may have been rotated since it was read.
    if (r.status === 403 && (await this.credential.refresh())) return this.send(m, method, key, query, timeoutMs, await this.credential.secret());
    return r;
  }

  private send(m: Member, method: string, key: string, query: string, timeoutMs: number | undefined, secret: string | undefined): Promise<Answer> {
    this.stats.peerRequests++;
    const path = `/block/${encodeURIComponent(key)}${query}`;
    const [host, port] = splitAddress(m.address);
    const limit = Math.max(timeoutMs ?? 0, this.opts.peerTimeoutMs ?? 5000);
    return new Promise((res0, rej0) => {
      let last = performance.now();
      const active = () => void (last = performance.now());
      // Where a silent request was stuck (reported in the failure reason).
      let phase = 'before any answer';
      // An idle watchdog instead of the socket timeout: it judges only after pending input has been read
      // (setImmediate runs after the poll phase), so a client that was stalled itself (a loaded machine)
      // does not take a member whose bytes wait in its socket for a silent one.
      const watchdog = setInterval(
        () =>
          setImmediate(() => {
            const silent = performance.now() - last;
            if (silent > limit && !this.patientWith(m, silent)) {
              const why = this.inRing(m) ? 'silent past the cap' : 'silent and out of the ring';
              req.destroy(new Error(`cache member ${m.address} timed out (${why} ${phase}, ${Math.round(silent)} ms)`));
            }
          }),
        Math.max(10, limit / 4),
      );
      watchdog.unref();
      const resolve = (v: Answer) => (clearInterval(watchdog), res0(v));
      const reject = (e: Error) => (clearInterval(watchdog), rej0(e));
      const tls = m.tls === true;
      if (tls) this.tlsAgent ??= serviceAgent(true, { ca: this.opts.tls?.ca ?? tlsFromEnv().ca }, { maxSockets: 64, keepAliveMsecs: 10_000, timeout: 30_000 });
      const req = (tls ? httpsRequest : request)(
        {
          host,
          port,
          method,
          path,
          agent: tls ? this.tlsAgent : this.agent,
          headers: { 'x-ferry-volume': this.volume.uuid, ...(secret ? { authorization: signRequest(secret, method, path) } : {}) },
        },
        (res) => {
          active();
          phase = 'in the body';
          const want = Number(res.headers['content-length']);
          // The body goes straight into one buffer of the announced length (no list of chunks to join).
          const sized = Number.isSafeInteger(want) && want >= 0 && want <= 1 << 30;
          const whole = sized ? Buffer.allocUnsafe(want) : undefined;
          const parts: Buffer[] = [];
          let got = 0;
          res.on('data', (c: Buffer) => {
            active();
            if (whole && got + c.length <= whole.length) c.copy(whole, got);
            else parts.push(c);
            got += c.length;
          });
          res.on('end', () => {
            // A member that died mid-answer leaves a short body: never take it for the block.
            if (sized && got !== want) return reject(new Error(`short answer from ${m.address}`));
            resolve({ status: res.statusCode ?? 0, body: whole ?? Buffer.concat(parts), headers: res.headers });
          });
          res.on('error', reject);
          res.on('aborted', () => reject(new Error(`answer from ${m.address} aborted`)));
        },
      );
      // "102 Processing" while the member fetches the block: it is working.
      req.on('information', () => {
        active();
        phase = 'while the member was getting the block';
      });
      req.on('error', reject);
      req.end();
    });
  }

  // ---- serving ----

  private async listen(): Promise<void> {
    await this.verifier.prime();
    const [host, port] = splitAddress(this.opts.address ?? '127.0.0.1:0');
    const server = serviceServer((req, res) => void this.serve(req, res), this.opts.tls);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    const actual = typeof a === 'object' && a ? a.port : port;
    const advertised = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
    this.address = `${advertised.includes(':') ? `[${advertised}]` : advertised}:${actual}`;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body?: Buffer | string): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.statusCode = status;
      if (body === undefined) res.setHeader('content-length', 0);
      else res.setHeader('content-length', Buffer.byteLength(body));
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      const refused = await this.verifier.verify(req.method ?? '', req.url ?? '', req.headers.authorization);
      if (refused) return reply(refused.status, `${refused.message}\n`);
      const url = new URL(req.url ?? '/', 'http://member');
      if (!url.pathname.startsWith('/block/')) return reply(404, 'not found\n');
      if (req.headers['x-ferry-volume'] !== this.volume.uuid) return reply(409, 'wrong volume\n');
      const key = decodeURIComponent(url.pathname.slice('/block/'.length));
      // Only the volume's blocks: a member is no open proxy to the object store.
      if (!key.startsWith(this.volume.blockPrefix) || key.includes('..')) return reply(400, 'not a block key\n');
      const source = this.source!;
      if (req.method === 'HEAD') return reply(source.has(key) ? 200 : 404);
      if (req.method === 'DELETE') {
        await source.drop(key);
        return reply(204);
      }
      if (req.method !== 'GET') return reply(405);
      const ranged = url.searchParams.has('off') || url.searchParams.has('len');
      const off = Number(url.searchParams.get('off') ?? 0);
      const len = Number(url.searchParams.get('len') ?? -1);
      if (!Number.isSafeInteger(off) || off < 0 || !Number.isSafeInteger(len)) return reply(400, 'bad range\n');
      const check = url.searchParams.get('check');
      if (check !== null) {
        if (check !== 'crc32c' || !source.checkedRange) return reply(400, `cannot check ranges with '${check}'\n`);
        const working = setInterval(() => res.writeProcessing(), PROCESSING_MS);
        let body: Buffer;
        try {
          body = await source.checkedRange(key, off, len);
        } finally {
          clearInterval(working);
        }
        this.stats.served++;
        this.stats.servedBytes += body.length;
        res.setHeader(RANGE_SUM, (crc32c(body) >>> 0).toString(16).padStart(8, '0'));
        return reply(200, body);
      }
      // A range of a block this member holds: read alone (a random 4 KiB read costs 4 KiB, not the block).
      if (ranged && source.localRange && source.has(key) && !url.searchParams.get('warm')) {
        const body = await source.localRange(key, off, len);
        this.stats.served++;
        this.stats.servedBytes += body.length;
        return reply(200, body);
      }
      let data: Buffer;
      // Fetching a cold block from a slow store can take longer than a client's peer timeout: interim
      // "102 Processing" lines meanwhile show the client a working member (its socket is not idle), so it
      // waits for this one fetch instead of taking the member for dead and going to the store itself.
      // A hung member sends nothing and still times out.
      // (Cached blocks too: reading one can queue behind many others on a busy member.)
      const working = setInterval(() => res.writeProcessing(), PROCESSING_MS);
      if (!source.has(key)) res.writeProcessing();
      try {
        data = await source.localBlock(key);
      } finally {
        clearInterval(working);
      }
      if (url.searchParams.get('warm')) return reply(204);
      const start = Math.min(off, data.length);
      const end = len < 0 ? data.length : Math.min(data.length, start + len);
      const body = data.subarray(start, end);
      this.stats.served++;
      this.stats.servedBytes += body.length;
      reply(200, body);
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError((e as { cause?: unknown })?.cause, 'ENOENT')) return reply(404, 'no such block\n');
      reply(502, `${(e as Error)?.message ?? String(e)}\n`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.agent.destroy();
    this.tlsAgent?.destroy();
    if (this.server) {
      const s = this.server;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    }
    if (this.address) await this.meta.closeSession().catch(() => undefined);
    await this.meta.close().catch(() => undefined);
  }
}

interface Answer {
  status: number;
  body: Buffer;
  headers: IncomingHttpHeaders;
}

/** Nothing listens at the member's address: the process is gone, asking again will not help. */
function isRefused(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}

/** A short, countable reason for a failed peer request (no addresses or keys in it). */
function failureReason(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  const msg = (e as Error)?.message ?? String(e);
  const t = /timed out \(([^,]+)/.exec(msg);
  if (t) return `timed out: ${t[1]}`;
  if (msg.includes('short answer')) return 'short answer';
  if (msg.includes('aborted')) return 'answer aborted';
  return msg.slice(0, 80);
}

function memberOf(s: SessionInfo, opts: GroupOptions): Member | undefined {
  if (s.cacheGroup !== opts.name || typeof s.groupAddress !== 'string' || !s.groupAddress) return undefined;
  // A group lives in one region: members elsewhere are someone else's (same name, other region).
  if (opts.region && s.region && s.region !== opts.region) return undefined;
  return { id: s.groupAddress, address: s.groupAddress, zone: s.zone, region: s.region, tls: s.groupTls === true };
}

export function splitAddress(addr: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr.trim());
  if (!m) {
    if (/^\d+$/.test(addr.trim())) return ['127.0.0.1', Number(addr)];
    throw new FsError('EINVAL', { message: `bad cache group address '${addr}' (expected HOST:PORT)` });
  }
  return [m[1] || '127.0.0.1', Number(m[2])];
}
