// The one place an access key (a gateway key, or the same record as a token for the SDK, a mount or WebHDFS)
// becomes what it may touch: its expiry and source networks are checked here, and its scope becomes a
// VfsView rooted at its --subdir whose Context carries the limits every VFS operation enforces (limit.ts).
// Every door calls scopedView (servers through KeyScopes, which caches the work per key).
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { FsError } from '../errors.js';
import { type AccessLimit, type GatewayKey, type Format, type KeyScope } from '../meta/types.js';
import { resolveSubdir, normalizeSubdir } from './subdir.js';
import { VfsView } from './view.js';

/** A refusal: the key is unknown, wrong, expired, or used from outside its networks (doors answer it as "access denied"). */
export function refused(message: string): FsError {
  return new FsError('EACCES', { message });
}

/** Checks a scope's fields (keys add, and records read from the volume); returns the first problem, if any. */
export function scopeProblem(s: KeyScope): string | undefined {
  if (s.access !== undefined && !['rw', 'ro', 'append'].includes(s.access)) return `access must be rw, ro or append, not '${s.access}'`;
  if (s.expires !== undefined && Number.isNaN(Date.parse(s.expires))) return `expires '${s.expires}' is not a time`;
  for (const b of s.buckets ?? []) if (!b || b.includes('/') || b === '.' || b === '..') return `'${b}' is not a bucket (a top-level directory name)`;
  try {
    allowList(s.allow);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/** net.BlockList of CIDRs or plain addresses (IPv4 and IPv6); an IPv4 network also admits its IPv4-mapped IPv6 form. */
export function allowList(allow: string[] | undefined): BlockList | undefined {
  if (!allow?.length) return undefined;
  const list = new BlockList();
  for (const a of allow) {
    const [addr, bits, extra] = a.trim().split('/');
    const type = isIP(addr ?? '');
    const n = bits === undefined ? (type === 4 ? 32 : 128) : Number(bits);
    if (!type || extra !== undefined || !/^\d+$/.test(bits ?? '0') || n > (type === 4 ? 32 : 128)) throw new Error(`'${a}' is not an address or a CIDR network (10.0.0.0/8, fd00::/8)`);
    list.addSubnet(addr!, n, type === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

function admits(list: BlockList, addr: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  const a = mapped ?? addr;
  const type = isIP(a);
  return type !== 0 && list.check(a, type === 4 ? 'ipv4' : 'ipv6');
}

/** This host's addresses: where an SDK client or a mount (no remote peer: it talks to the metadata itself) comes from. */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
}

/** Refuses a key past its expiry or from outside its networks. `from`: the peer's address(es); undefined = unknown. */
export function checkKey(id: string, key: GatewayKey, from: string | string[] | undefined, now = Date.now(), allow = allowList(key.scope?.allow)): void {
  const exp = key.scope?.expires;
  if (exp !== undefined && !(now < Date.parse(exp))) throw refused(`access key ${id} expired at ${exp}`);
  if (allow) {
    const addrs = from === undefined ? [] : Array.isArray(from) ? from : [from];
    if (!addrs.some((a) => admits(allow, a))) throw refused(`access key ${id} is not allowed from ${addrs.join(', ') || 'an unknown address'} (only ${key.scope!.allow!.join(', ')})`);
  }
}

/** The limits a key's scope puts on its Context (undefined for an unscoped key: POSIX permissions alone). */
function limitOf(scope: KeyScope | undefined, root: number): AccessLimit | undefined {
  if (!scope || (!scope.subdir && (scope.access ?? 'rw') === 'rw' && !scope.buckets)) return undefined;
  return { access: scope.access ?? 'rw', root, ...(scope.buckets ? { buckets: new Set(scope.buckets) } : {}) };
}

/**
 * THE function: key + where the request comes from -> the view the key may use, or a refusal (EACCES).
 * `base`: any view of the client (its user and root do not matter: the key's uid/gid and subdir replace them).
 */
export async function scopedView(base: VfsView, id: string, key: GatewayKey, from: string | string[] | undefined, now = Date.now(), umask?: number): Promise<VfsView> {
  checkKey(id, key, from, now);
  return viewOf(base, key, umask);
}

/**
 * The umask that makes S3 objects `objectMode` (default 0600: owner-private) and the directories above them
 * the same plus search where there is read (0600 -> 0700, 0640 -> 0750).
 */
export function objectUmask(objectMode = 0o600): number {
  const m = objectMode & 0o666;
  return 0o777 & ~(m | ((m & 0o444) >> 2));
}

async function viewOf(base: VfsView, key: GatewayKey, umask?: number): Promise<VfsView> {
  const s = key.scope;
  const root = s?.subdir && normalizeSubdir(s.subdir) !== '/' ? await resolveSubdir(base.vfs, s.subdir) : base.root;
  const gids = key.gids?.length ? [key.gid, ...key.gids] : [key.gid];
  const limit = limitOf(s, root);
  const v = base.within(root).asUser(key.uid, key.gid, gids, umask);
  return limit ? withLimit(v, limit) : v;
}

function withLimit(v: VfsView, limit: AccessLimit): VfsView {
  return new VfsView(v.vfs, { ...v.ctx, limit }, v.root);
}

function sameSecret(a: string, b: string): boolean {
  // Hashes first: timingSafeEqual needs equal lengths, and the secret's length must not leak either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A token is `ACCESS-KEY:SECRET` (what `ferry gateway keys add --token` prints), one line. */
export function parseToken(text: string): { id: string; secret: string } {
  const t = text.trim();
  const i = t.indexOf(':');
  if (i <= 0 || i === t.length - 1 || /\s/.test(t)) throw refused('a token is ACCESS-KEY:SECRET on one line');
  return { id: t.slice(0, i), secret: t.slice(i + 1) };
}

/** The key a token names, if its secret matches (the same refusal for an unknown key and a wrong secret). */
export function keyOfToken(format: Format, token: string): { id: string; key: GatewayKey } {
  const { id, secret } = parseToken(token);
  const key = format.gateway?.keys[id];
  // A dump leaves secrets out (blank): such a key is refused like a wrong secret.
  if (!key || !key.secret || !sameSecret(key.secret, secret)) throw refused('the token is not valid for this volume (unknown access key or wrong secret)');
  return { id, key };
}

/**
 * A token's view for a client that lives on (the SDK, a mount): checked now from this host's addresses, then
 * every few seconds against the volume's (refreshed) format record, so an expired or removed key stops working.
 */
export async function tokenView(base: VfsView, token: string, recheckMs = 5000): Promise<{ view: VfsView; stop: () => void }> {
  const { id, key } = keyOfToken(await base.vfs.meta.load(), token);
  const view = await scopedView(base, id, key, localAddresses());
  // An unscoped key gets a limit too, so that revoking it has something to mark.
  const limit = view.ctx.limit ?? { access: 'rw', root: view.root };
  const live = view.ctx.limit ? view : withLimit(view, limit);
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    base.vfs.meta
      .load()
      .then((f) => {
        const now = keyOfToken(f, token);
        checkKey(now.id, now.key, localAddresses());
      })
      .catch((e: unknown) => {
        // Only the key's own refusal revokes: a metadata hiccup is tried again next time.
        if (e instanceof FsError && e.code === 'EACCES') {
          limit.revoked = e.message;
          clearInterval(timer);
        }
      })
      .finally(() => (checking = false));
  }, recheckMs);
  timer.unref();
  return { view: live, stop: () => clearInterval(timer) };
}

/**
 * The servers' cache of scopedView (the gateway, WebHDFS): a key's networks and subdir inode are worked out
 * once (again after `ttlMs`, or when its record changes); expiry and the peer's address are checked every call.
 */
export class KeyScopes {
  private readonly cache = new Map<string, { key: GatewayKey; allow?: BlockList; at: number; view: Promise<VfsView> }>();

  constructor(private readonly base: VfsView, private readonly ttlMs = 5000, private readonly umaskOf?: (key: GatewayKey) => number) {}

  async view(id: string, key: GatewayKey, from: string | undefined, now = Date.now()): Promise<VfsView> {
    let c = this.cache.get(id);
    if (!c || c.key !== key || now - c.at > this.ttlMs) {
      const view = viewOf(this.base, key, this.umaskOf?.(key));
      c = { key, allow: allowList(key.scope?.allow), at: now, view };
      this.cache.set(id, c);
      view.catch(() => this.cache.get(id) === c && this.cache.delete(id));
    }
    checkKey(id, key, from, now, c.allow);
    return c.view;
  }
}
