// Authentication of FerryFS's own service endpoints (the meta-server, the mirror replicator's wait endpoint,
// the cache-group members' block server), written once. Every request carries
//
//   authorization: Ferry-HMAC ts=<unix ms>,nonce=<random>,sig=<base64url HMAC-SHA256>
//
// signed with the volume's service secret (the format record's `services` section) over
// "FERRY-HMAC-1\n<method>\n<path?query>\n<ts>\n<nonce>\n" followed by the body. A server accepts a request
// whose timestamp is within the replay window of its clock and whose nonce it has not seen in that window.
// HMAC rather than mutual TLS: it needs no PKI, works through proxies and load balancers that end TLS, and is
// checked before the server touches any metadata; TLS (--tls-cert/--tls-key/--tls-ca) adds confidentiality
// on top (docs/security.md).
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, Agent as HttpAgent } from 'node:http';
import { createServer as createHttpsServer, Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { FsError } from '../errors.js';
import type { Meta } from './interface.js';
import type { Format, ServiceSecrets } from './types.js';

export const AUTH_SCHEME = 'Ferry-HMAC';
/** How far a request's timestamp may be from the server's clock (either way). Clocks must agree within it. */
export const REPLAY_WINDOW_MS = 60_000;
/** How long a rotated-out secret is still accepted by default (`ferry config --rotate-service-secret`). */
export const DEFAULT_GRACE_MS = 3600_000;
/** Where clients and services that cannot read the format record take the secret from. */
export const SECRET_ENV = 'FERRY_SERVICE_SECRET';
export const SECRET_FILE_ENV = 'FERRY_SERVICE_SECRET_FILE';

export function newServiceSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A fresh `services` section (format), or the rotation of an existing one: the old secret stays for graceMs. */
export function rotatedSecrets(old: ServiceSecrets | undefined, graceMs = DEFAULT_GRACE_MS, now = Date.now()): ServiceSecrets {
  const next: ServiceSecrets = { secret: newServiceSecret(), created: new Date(now).toISOString() };
  if (old?.secret && graceMs > 0) next.previous = { secret: old.secret, until: new Date(now + graceMs).toISOString() };
  return next;
}

/** The secrets a server accepts now: the current one, and the previous one during its grace period. */
export function acceptedSecrets(s: ServiceSecrets | undefined, now = Date.now()): string[] {
  if (!s?.secret) return [];
  const out = [s.secret];
  if (s.previous?.secret && Date.parse(s.previous.until) > now) out.push(s.previous.secret);
  return out;
}

// ---- signing (clients) ----

/** Key objects of the secrets in use (a string key would be prepared again for every request). */
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) {
    if (keys.size > 16) keys.clear();
    keys.set(secret, (k = createSecretKey(Buffer.from(secret))));
  }
  return k;
}

/** One pass over the request: the body is MACed itself, no separate digest of it. */
function mac(secret: string, method: string, path: string, ts: string, nonce: string, body: string | Buffer): Buffer {
  return createHmac('sha256', keyOf(secret)).update(`FERRY-HMAC-1\n${method.toUpperCase()}\n${path}\n${ts}\n${nonce}\n`).update(body).digest();
}

// Nonces must never repeat, not be unpredictable (the MAC protects them): a random prefix per process and a
// counter cost nothing per request, where random bytes for each would cost more than the MAC.
const NONCE_PREFIX = randomBytes(9).toString('base64url');
let nonceCount = 0;

/** The authorization header of one request (ts and nonce are for tests that forge old or replayed ones). */
export function signRequest(secret: string, method: string, path: string, body: string | Buffer = '', ts = Date.now(), nonce = `${NONCE_PREFIX}${(nonceCount++).toString(36)}`): string {
  return `${AUTH_SCHEME} ts=${ts},nonce=${nonce},sig=${mac(secret, method, path, String(ts), nonce, body).toString('base64url')}`;
}

/** What a client signs with: a secret it can look up again when a server says it is stale (rotation). */
export interface ServiceCredential {
  secret(): Promise<string | undefined>;
  /** Looks the secret up again; true when it changed (worth one retry). */
  refresh(): Promise<boolean>;
}

/** A secret read from a file (re-read after a rotation), from FERRY_SERVICE_SECRET_FILE or FERRY_SERVICE_SECRET. */
export function secretFromFileOrEnv(file?: string): ServiceCredential {
  const path = file ?? process.env[SECRET_FILE_ENV];
  const read = (): string | undefined => {
    if (!path) return process.env[SECRET_ENV] || undefined;
    try {
      return readFileSync(path, 'utf8').trim() || undefined;
    } catch (e) {
      throw new FsError('EACCES', { message: `cannot read the service secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  };
  let value = read();
  return {
    secret: async () => value,
    refresh: async () => {
      const was = value;
      value = read();
      return value !== was;
    },
  };
}

/** The secret of the volume whose metadata `meta` is (services that can read the format record). */
export function secretFromFormat(meta: Meta, ttlMs = 2000): ServiceCredential {
  let cached: { secret?: string; at: number } | undefined;
  const load = async () => {
    const f = await meta.load();
    cached = { secret: f.services?.secret, at: Date.now() };
    return cached.secret;
  };
  return {
    secret: async () => (cached && Date.now() - cached.at < ttlMs ? cached.secret : load()),
    refresh: async () => {
      const was = cached?.secret;
      return (await load()) !== was;
    },
  };
}

// ---- verifying (servers) ----

/** Nonces seen within the replay window: three generations, each as long as the window, dropped whole. */
class NonceCache {
  private gens: Array<Set<string>> = [new Set(), new Set(), new Set()];
  private rotated = Date.now();

  constructor(private readonly windowMs: number) {}

  /** True when the nonce is new (and remembers it). */
  add(nonce: string, now = Date.now()): boolean {
    while (now - this.rotated >= this.windowMs) {
      this.gens = [new Set(), this.gens[0]!, this.gens[1]!];
      this.rotated += this.windowMs;
      if (now - this.rotated > 3 * this.windowMs) this.rotated = now;
    }
    if (this.gens.some((g) => g.has(nonce))) return false;
    this.gens[0]!.add(nonce);
    return true;
  }
}

export interface AuthFailure {
  status: 401 | 403;
  message: string;
}

/**
 * Checks requests against the secrets of `source` (re-read at most once a second when a signature does not
 * match, so a rotation is seen at once without letting unsigned traffic hammer the metadata).
 */
export class ServiceVerifier {
  private readonly nonces: NonceCache;
  private secrets?: { list: ServiceSecrets | undefined; at: number };
  private loading?: Promise<void>;

  constructor(
    private readonly source: () => Promise<ServiceSecrets | undefined>,
    private readonly windowMs = REPLAY_WINDOW_MS,
    private readonly refreshMs = 2000,
  ) {
    this.nonces = new NonceCache(windowMs);
  }

  private async reload(minAgeMs: number): Promise<void> {
    if (this.secrets && Date.now() - this.secrets.at < minAgeMs) return;
    this.loading ??= this.source().then(
      (list) => void (this.secrets = { list, at: Date.now() }),
    ).finally(() => (this.loading = undefined));
    await this.loading;
  }

  /** Reads the secrets now (a server calls it before it listens: its first request pays nothing extra). */
  async prime(): Promise<void> {
    await this.reload(this.refreshMs);
  }

  /** undefined when the request is authentic; else the status and one line saying why. */
  async verify(method: string, path: string, auth: string | string[] | undefined, body: string | Buffer = ''): Promise<AuthFailure | undefined> {
    if (typeof auth !== 'string' || !auth) return { status: 401, message: 'authentication required: the request carries no service credential' };
    const m = /^Ferry-HMAC ts=(\d{1,16}),nonce=([A-Za-z0-9_-]{8,64}),sig=([A-Za-z0-9_-]{43})$/.exec(auth);
    if (!m) return { status: 401, message: 'malformed service credential' };
    const [, ts, nonce, sig] = m as unknown as [string, string, string, string];
    const skew = Date.now() - Number(ts);
    if (Math.abs(skew) > this.windowMs) {
      return { status: 401, message: `service credential expired: its timestamp is ${Math.round(skew / 1000)} s off the server's clock (allowed ${this.windowMs / 1000} s)` };
    }
    await this.reload(this.refreshMs);
    const given = Buffer.from(sig, 'base64url');
    const matches = () => acceptedSecrets(this.secrets?.list).some((s) => given.length === 32 && timingSafeEqual(mac(s, method, path, ts, nonce, body), given));
    let ok = matches();
    if (!ok) {
      // Maybe rotated since: look again (at most once a second).
      await this.reload(1000);
      ok = matches();
    }
    if (!ok) {
      return this.secrets?.list?.secret
        ? { status: 403, message: 'wrong service credential (not signed with the volume\'s current service secret)' }
        : { status: 403, message: 'the volume has no service secret yet: run ferry config --rotate-service-secret' };
    }
    if (!this.nonces.add(nonce)) return { status: 403, message: 'replayed request: this credential was already used' };
    return undefined;
  }
}

/** The secrets of a volume from its format record, creating the first one for a volume formatted without it. */
export async function serviceSecretsOf(meta: Meta): Promise<ServiceSecrets> {
  const f = await meta.load();
  if (f.services?.secret) return f.services;
  const next = await meta.updateFormat((old: Format) => (old.services?.secret ? {} : { services: rotatedSecrets(undefined) }));
  return next.services!;
}

// ---- TLS and listening ----

export interface TlsFiles {
  cert?: string;
  key?: string;
  /** Server: clients must present a certificate signed by it (mutual TLS). Client: the CA the server's certificate is checked against. */
  ca?: string;
}

function readTls(t: TlsFiles, who: string): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
  const read = (what: string, p?: string) => {
    if (!p) return undefined;
    try {
      return readFileSync(p);
    } catch (e) {
      throw new FsError('EINVAL', { message: `${who}: cannot read the TLS ${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  };
  return { cert: read('certificate', t.cert), key: read('key', t.key), ca: read('CA', t.ca) };
}

/** An HTTP server, or HTTPS with `tls.cert`/`tls.key` (and client certificates checked against `tls.ca`). */
export function serviceServer(handler: RequestListener, tls?: TlsFiles, keepAliveTimeout = 60_000): Server {
  if (!tls?.cert && !tls?.key) return createHttpServer({ keepAlive: true, keepAliveTimeout }, handler);
  if (!tls.cert || !tls.key) throw new FsError('EINVAL', { message: 'TLS needs both --tls-cert and --tls-key' });
  const f = readTls(tls, 'server');
  return createHttpsServer({ ...f, requestCert: !!f.ca, rejectUnauthorized: !!f.ca, keepAlive: true, keepAliveTimeout }, handler) as unknown as Server;
}

/** The agent of a client: plain, or TLS verifying the server against `tls.ca` (else the system CAs). */
export function serviceAgent(useTls: boolean, tls: TlsFiles = {}, opts: { keepAlive?: boolean; maxSockets?: number; timeout?: number; keepAliveMsecs?: number } = {}): HttpAgent {
  if (!useTls) return new HttpAgent({ keepAlive: true, ...opts });
  return new HttpsAgent({ keepAlive: true, ...opts, ...readTls(tls, 'client') }) as unknown as HttpAgent;
}

/** The TLS files of a client from the environment (FERRY_TLS_CA, FERRY_TLS_CERT, FERRY_TLS_KEY). */
export function tlsFromEnv(): TlsFiles {
  return { ca: process.env.FERRY_TLS_CA || undefined, cert: process.env.FERRY_TLS_CERT || undefined, key: process.env.FERRY_TLS_KEY || undefined };
}

/** Whether a listen host is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** The warning of a service listening beyond this machine without TLS (unless --insecure). */
export function exposureWarning(what: string, host: string, tls: boolean, insecure: boolean): string | undefined {
  if (tls || insecure || isLoopback(host)) return undefined;
  return `ferry: warning: ${what} listens on ${host || 'every address'} without TLS: requests are authenticated but travel in clear text; give --tls-cert/--tls-key (or --insecure on a trusted network)\n`;
}

/** The request's body, whole (service requests are small: metadata calls, block requests). */
export async function readBody(req: IncomingMessage, limit = 64 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const p of req as AsyncIterable<Buffer>) {
    n += p.length;
    if (n > limit) throw new FsError('EFBIG', { message: `request body over ${limit} bytes` });
    parts.push(p);
  }
  return Buffer.concat(parts);
}

