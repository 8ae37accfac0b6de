// ferry gateway META-URL ADDRESS: serves a volume over the S3 API (buckets = top-level directories).
// ferry gateway keys add|list|remove META-URL [ACCESS-KEY]: manages the access keys stored in the volume.
import { redactText } from '../redact.js';
import { UsageError, flag, parseCount, parseWith, str, type Command, type Parsed } from '../args.js';
import type { KeyScope } from '../../meta/types.js';
import { parseDuration } from '../../meta/retention.js';
import { normalizeSubdir } from '../../vfs/subdir.js';
import { scopeProblem } from '../../vfs/scope.js';
import { out } from '../output.js';
import { requireVolume, withMeta } from '../meta.js';
import { applyFlags, clientFlags } from '../client-flags.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { refuseUpgradesWhileStarting, serveThenClose, UPGRADE_FLAGS, upgradeIfAsked } from '../upgrade.js';

const command: Command = {
  spec: {
    name: 'gateway',
    summary: 'Serve a volume over the S3 API (or manage its access keys).',
    usage: 'META-URL ADDRESS | keys add|list|remove META-URL [ACCESS-KEY]',
    description: [
      'Serves the volume at ADDRESS (HOST:PORT) as an S3 endpoint, path-style: top-level directories are',
      'buckets and files are objects, so the same bytes are a file through the SDK or a mount and an object',
      'through S3. Requests are signed (AWS Signature V4) with access keys stored in the volume; each key acts',
      'as a uid/gid and POSIX permissions apply. Prints the URL, then serves until SIGINT/SIGTERM, which',
      'finishes requests in flight. GET /-/health and /-/metrics (Prometheus) need no signature.',
      '',
      'Keys: `ferry gateway keys add META-URL --uid N --gid N` prints a new access key and secret',
      '(or give --access-key/--secret-key), and the token (ACCESS-KEY:SECRET) the SDK, a mount',
      '(--token-file) and WebHDFS take; the secret is never shown again. A key may be scoped: --subdir',
      '(its root), --read-only or --append-only (new objects/files and appends; no overwrite, no delete),',
      '--buckets, --allow (source networks), --expires. `keys list` shows the scopes;',
      '`keys remove META-URL ACCESS-KEY`. Running gateways pick up changes within 5 seconds.',
      'Buckets and objects created over S3 are owner-private (0700/0600) unless --bucket-mode, or a key\'s',
      '--bucket-mode/--object-mode, say otherwise (e.g. 2770/660 for a team bucket shared by its gid).',
    ].join('\n'),
    examples: [
      'ferry gateway keys add sqlite3://ferry-data/meta.db --uid 1000 --gid 1000',
      'ferry gateway keys add sqlite3://ferry-data/meta.db --uid 1001 --gid 1001 --subdir /team-a --read-only --allow 10.0.0.0/8 --expires 30d',
      'ferry gateway sqlite3://ferry-data/meta.db 0.0.0.0:9000',
      'ferry gateway sqlite3://ferry-data/meta.db 0.0.0.0:9000 --body-timeout 60 --max-header-size 16384',
      'aws --endpoint-url http://127.0.0.1:9000 s3 ls',
      'ferry gateway --upgrade 0.0.0.0:9000   # after installing a new ferry: no request refused (docs/daemons.md)',
    ],
    options: {
      'tls-cert': { type: 'string', arg: 'FILE', help: 'serve HTTPS with this certificate (PEM)' },
      'tls-key': { type: 'string', arg: 'FILE', help: 'private key of --tls-cert (PEM)' },
      anonymous: { type: 'boolean', help: 'serve unsigned requests too, as --anonymous-uid/gid' },
      'anonymous-uid': { type: 'string', arg: 'N', help: 'uid of anonymous requests (default 65534)' },
      'anonymous-gid': { type: 'string', arg: 'N', help: 'gid of anonymous requests (default 65534)' },
      region: { type: 'string', arg: 'NAME', help: 'region reported by GetBucketLocation (default us-east-1)' },
      'bucket-mode': { type: 'string', arg: 'OCTAL', help: 'mode of buckets created over S3 (default 700: owner-private; 1777 = shared); keys add: this key\'s' },
      'object-mode': { type: 'string', arg: 'OCTAL', help: 'keys add: mode of objects the key creates (default 600)' },
      subdir: { type: 'string', arg: 'DIR', help: 'keys add: the key sees only this directory, as its root' },
      'read-only': { type: 'boolean', help: 'keys add: the key reads and lists only' },
      'append-only': { type: 'boolean', help: 'keys add: new objects/files and appends only (no overwrite, no delete)' },
      buckets: { type: 'string', arg: 'B1,B2', help: 'keys add: only these buckets (top-level directories of its root)' },
      allow: { type: 'string', arg: 'CIDR,...', help: 'keys add: only from these networks (10.0.0.0/8,fd00::/8)' },
      expires: { type: 'string', arg: 'WHEN', help: 'keys add: refused after this (30d, 12h, or an ISO time)' },
      'cache-timeout': { type: 'string', arg: 'SEC', help: 'attribute/entry cache seconds (default 0: read-after-write)' },
      'access-log': { type: 'boolean', help: 'print one line per request on stdout' },
      'max-header-size': { type: 'string', arg: 'BYTES', help: 'largest request header section, else RequestHeaderSectionTooLarge (default 8192, as S3; 0: node\'s limit only)' },
      'header-timeout': { type: 'string', arg: 'SEC', help: 'time to send a whole request head, else RequestTimeout (default 30)' },
      'body-timeout': { type: 'string', arg: 'SEC', help: 'a request body sending nothing this long gets RequestTimeout (default 30; 0: no limit)' },
      uid: { type: 'string', arg: 'N', help: 'keys add: uid the key acts as' },
      gid: { type: 'string', arg: 'N', help: 'keys add: gid the key acts as' },
      groups: { type: 'string', arg: 'G1,G2', help: 'keys add: supplementary groups' },
      'access-key': { type: 'string', arg: 'ID', help: 'keys add: use this access key id (default: generated)' },
      'secret-key': { type: 'string', arg: 'SECRET', help: 'keys add: use this secret (default: generated)' },
      description: { type: 'string', arg: 'TEXT', help: 'keys add: a note shown by keys list' },
      ...clientFlags('service', 'local'),
      ...DAEMON_FLAGS,
      ...UPGRADE_FLAGS,
    },
    minArgs: 0,
    maxArgs: 4,
  },

  async run(p: Parsed): Promise<void> {
    if (p.args[0] === 'keys') return keys(p);
    if (await upgradeIfAsked(p, 'gateway')) return;
    refuseUpgradesWhileStarting('gateway');
    if (p.args.length !== 2) throw new UsageError(`usage is 'ferry gateway META-URL ADDRESS' (see 'ferry gateway --help')`);
    const [metaUrl, address] = p.args as [string, string];
    if (!/^(\[[^\]]+\]|[^:]*):\d+$/.test(address) && !/^\d+$/.test(address)) throw new UsageError(`ADDRESS must be HOST:PORT, not '${address}'`);
    const cert = str(p, 'tls-cert');
    const key = str(p, 'tls-key');
    if (!!cert !== !!key) throw new UsageError('--tls-cert and --tls-key go together');
    const mode = str(p, 'bucket-mode');
    if (mode !== undefined && !/^[0-7]{3,4}$/.test(mode)) throw new UsageError(`--bucket-mode: '${mode}' is not an octal mode`);
    const cache = str(p, 'cache-timeout');
    if (cache !== undefined && !/^\d+(\.\d+)?$/.test(cache)) throw new UsageError(`--cache-timeout: '${cache}' is not a number of seconds`);
    const limits = limitFlags(p);
    const { metaUrl: _url, ...client } = applyFlags({ metaUrl }, p, 'service', 'local');
    await requireVolume(metaUrl);
    if (await daemonize(p, 'gateway', address)) return;
    const { Gateway, keysOf } = await import('../../gateway/index.js');
    const gw = await Gateway.start({
      metaUrl,
      address: /^\d+$/.test(address) ? `0.0.0.0:${address}` : address,
      tls: cert && key ? { cert, key } : undefined,
      anonymous: flag(p, 'anonymous')
        ? { uid: parseCount('--anonymous-uid', str(p, 'anonymous-uid') ?? '65534'), gid: parseCount('--anonymous-gid', str(p, 'anonymous-gid') ?? '65534') }
        : undefined,
      region: str(p, 'region'),
      bucketMode: mode !== undefined ? parseInt(mode, 8) : undefined,
      cacheTimeout: cache !== undefined ? Number(cache) : undefined,
      log: flag(p, 'access-log') ? (l) => process.stdout.write(l + '\n') : undefined,
      client,
      limits,
      clientLog: (l) => process.stderr.write(l + '\n'),
    });
    const { openMeta } = await import('../../meta/index.js');
    const m = await openMeta(metaUrl);
    const nkeys = Object.keys(keysOf(await m.load().finally(() => m.close()))).length;
    process.stdout.write(`ferry gateway: serving ${redactText(metaUrl)} at ${gw.url} (${nkeys} access key${nkeys === 1 ? '' : 's'}${flag(p, 'anonymous') ? ', anonymous allowed' : ''})\n`);
    if (gw.metricsAddress) process.stderr.write(`ferry gateway: metrics at http://${gw.metricsAddress}/metrics\n`);
    if (nkeys === 0 && !flag(p, 'anonymous')) {
      process.stderr.write(`ferry gateway: no access keys yet: add one with 'ferry gateway keys add ${redactText(metaUrl)} --uid N --gid N'\n`);
    }
    await daemonReady(`gateway serving at ${gw.url}`);
    await serveThenClose('gateway', (handedOver) => gw.close(undefined, handedOver));
  },
};

/** --max-header-size, --header-timeout and --body-timeout, checked. */
function limitFlags(p: Parsed): { maxHeaderBytes?: number; headerTimeoutS?: number; bodyTimeoutS?: number } {
  const num = (name: string, min: number): number | undefined => {
    const v = str(p, name);
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min) throw new UsageError(`--${name}: '${v}' is not a number${min ? ` of at least ${min}` : ''}`);
    return Number(v);
  };
  const maxHeaderBytes = num('max-header-size', 0);
  if (maxHeaderBytes !== undefined && (!Number.isInteger(maxHeaderBytes) || (maxHeaderBytes > 0 && maxHeaderBytes < 1024))) {
    throw new UsageError(`--max-header-size: '${str(p, 'max-header-size')}' is not 0 (node's own limit only) or a whole number of bytes from 1024`);
  }
  return { maxHeaderBytes, headerTimeoutS: num('header-timeout', 1), bodyTimeoutS: num('body-timeout', 0) };
}

async function keys(p: Parsed): Promise<void> {
  const [, sub, metaUrl, ak] = p.args;
  if (!sub || !['add', 'list', 'remove'].includes(sub)) throw new UsageError(`usage is 'ferry gateway keys add|list|remove META-URL [ACCESS-KEY]'`);
  if (!metaUrl) throw new UsageError(`missing META-URL: usage is 'ferry gateway keys ${sub} META-URL${sub === 'remove' ? ' ACCESS-KEY' : ''}'`);
  const k = await import('../../gateway/keys.js');
  if (sub === 'list') {
    if (ak) throw new UsageError(`unexpected argument '${ak}'`);
    await withMeta(metaUrl, async (_meta, format) => {
      const table = k.keysOf(format);
      const rows = Object.entries(table);
      if (!rows.length) return out('no access keys\n');
      // Never a secret: it was shown once, by keys add.
      const lines = [['ACCESS-KEY', 'UID', 'GID', 'GROUPS', 'SCOPE', 'EXPIRES', 'CREATED', 'DESCRIPTION']];
      for (const [id, r] of rows) {
        const exp = r.scope?.expires;
        const expired = exp !== undefined && Date.parse(exp) <= Date.now() ? ' (expired)' : '';
        lines.push([id, String(r.uid), String(r.gid), (r.gids ?? []).join(',') || '-', scopeText(r), exp ? exp + expired : '-', r.created, r.description ?? '']);
      }
      const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      await out(lines.map((l) => l.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n').join(''));
    });
    return;
  }
  if (sub === 'remove') {
    if (!ak) throw new UsageError(`missing ACCESS-KEY: usage is 'ferry gateway keys remove META-URL ACCESS-KEY'`);
    await withMeta(metaUrl, async (meta) => {
      if (!(await k.removeKey(meta, ak))) throw new Error(`no access key '${ak}' in this volume`);
    });
    await out(`removed access key ${ak}\n`);
    return;
  }
  if (ak) throw new UsageError(`unexpected argument '${ak}' (use --access-key)`);
  const uidRaw = str(p, 'uid');
  const gidRaw = str(p, 'gid');
  if (uidRaw === undefined || gidRaw === undefined) throw new UsageError('keys add needs --uid and --gid (the identity the key acts as)');
  const accessKey = str(p, 'access-key') ?? k.newAccessKey();
  if (!k.ACCESS_KEY_RE.test(accessKey)) throw new UsageError(`--access-key: '${accessKey}' must be 3-128 letters, digits, '.', '_' or '-'`);
  const secret = str(p, 'secret-key') ?? k.newSecretKey();
  if (secret.length < 8) throw new UsageError('--secret-key must be at least 8 characters');
  const scope = scopeFlags(p);
  const modeFlag = (name: string): number | undefined => {
    const v = str(p, name);
    if (v !== undefined && !/^[0-7]{3,4}$/.test(v)) throw new UsageError(`--${name}: '${v}' is not an octal mode`);
    return v === undefined ? undefined : parseInt(v, 8);
  };
  const bucketMode = modeFlag('bucket-mode');
  const objectMode = modeFlag('object-mode');
  const groups = str(p, 'groups');
  const gids = groups ? groups.split(',').map((g) => parseCount('--groups', g.trim(), 2 ** 32 - 1)) : undefined;
  await withMeta(metaUrl, (meta) =>
    k.addKey(meta, accessKey, {
      secret,
      uid: parseCount('--uid', uidRaw, 2 ** 32 - 1),
      gid: parseCount('--gid', gidRaw, 2 ** 32 - 1),
      ...(gids ? { gids } : {}),
      created: new Date().toISOString(),
      ...(str(p, 'description') ? { description: str(p, 'description') } : {}),
      ...(scope ? { scope } : {}),
      ...(bucketMode !== undefined ? { bucketMode } : {}),
      ...(objectMode !== undefined ? { objectMode } : {}),
    }),
  );
  await out(`access key: ${accessKey}\nsecret key: ${secret}\ntoken:      ${accessKey}:${secret}\n${scope ? `scope:      ${scopeText({ scope })}\n` : ''}(the secret is not shown again)\n`);
}

/** keys add's scope flags as a KeyScope (undefined: an unscoped key); one clear line for a bad value. */
function scopeFlags(p: Parsed): KeyScope | undefined {
  if (flag(p, 'read-only') && flag(p, 'append-only')) throw new UsageError('--read-only and --append-only exclude each other');
  const s: KeyScope = {};
  const subdir = str(p, 'subdir');
  if (subdir !== undefined) {
    if (!subdir.startsWith('/')) throw new UsageError(`--subdir: '${subdir}' must be an absolute path in the volume (/team-a)`);
    s.subdir = normalizeSubdir(subdir);
  }
  if (flag(p, 'read-only')) s.access = 'ro';
  if (flag(p, 'append-only')) s.access = 'append';
  const list = (name: string) => str(p, name)?.split(',').map((x) => x.trim()).filter(Boolean);
  const buckets = list('buckets');
  if (buckets) s.buckets = buckets;
  const allow = list('allow');
  if (allow) s.allow = allow;
  const exp = str(p, 'expires');
  if (exp !== undefined) {
    const t = /^\d+(\.\d+)?[smhdw]?$/i.test(exp.trim()) ? Date.now() + parseWith(() => parseDuration('--expires', exp)) * 1000 : Date.parse(exp);
    if (Number.isNaN(t)) throw new UsageError(`--expires: '${exp}' is neither a duration (30d, 12h) nor a time (2027-01-31T00:00:00Z)`);
    s.expires = new Date(t).toISOString();
  }
  const problem = scopeProblem(s);
  if (problem) throw new UsageError(problem);
  return Object.keys(s).length ? s : undefined;
}

/** A scope in one cell: subdir, access and buckets, networks (never the secret). */
function scopeText(k: { scope?: KeyScope }): string {
  const s = k.scope;
  if (!s) return 'all';
  const parts = [s.subdir ?? '/', s.access ?? 'rw'];
  if (s.buckets) parts.push(`buckets=${s.buckets.join(',')}`);
  if (s.allow) parts.push(`allow=${s.allow.join(',')}`);
  return parts.join(' ');
}

export default command;
