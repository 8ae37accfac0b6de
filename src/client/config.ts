// ClientConfig: everything that decides how a client of a volume is put together, as one plain,
// JSON-serialisable object. A process can write it to a file and another one (an upgraded mount, the CSI
// driver) read it back; CLI flags, mount.ferry -o options and SDK options all map onto it in one table
// (options.ts). Functions (loggers) are runtime arguments of openClient, never part of the config.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { FsError } from '../errors.js';

export interface ClientConfig {
  /** The volume's metadata URL; a mirror's URL gives a mirror client (reads near, writes to its source). */
  metaUrl: string;
  /** Shown in `ferry status` for this client's session (`host:/mnt/ferry`, `sdk:script.js`, `s3-gateway`). */
  sessionLabel?: string;
  /** What this client serves, for `ferry status` (mount, gateway, sdk, ...; default sdk). */
  role?: string;
  /** Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: a free port, recorded in the session). */
  metrics?: string;
  /** Refuse writes with EROFS; a writable mirror opened read-only never connects to its source. */
  readOnly?: boolean;
  /** How long (seconds) attributes and entries are cached by the VFS and, for a mount, by the kernel. */
  metaCache?: { attrTimeout?: number; entryTimeout?: number; dirEntryTimeout?: number };
  /** A mirror client waits at most this long (ms) for the mirror to reach a version it knows of (default 5000). */
  mirrorWaitMs?: number;
  /** Data path tuning. */
  data?: {
    /** Bytes of write buffers shared by all open files (default 256 MiB). */
    bufferLimit?: number;
    /** Largest read-ahead window per open file in bytes (default: `prefetch` blocks). */
    maxReadahead?: number;
    /** Blocks a sequential reader fetches ahead at most (default 16, capped at 256 MiB; 0 = no read-ahead). */
    prefetch?: number;
    /** How long a read waits for a block missing from the object store before EIO (default 20 s). */
    missingBlockWaitMs?: number;
    /** Run heartbeat, deletion and compaction jobs (default true). */
    backgroundJobs?: boolean;
  };
  /** Block caches (see docs/cache.md). */
  cache?: {
    /** Bytes of whole blocks kept in memory (default 0, or 64 MiB with a disk cache or group). */
    memorySize?: number;
    /** Local disk cache directory (each volume uses `<dir>/<volume uuid>`). */
    dir?: string;
    /** Bytes the disk cache may use (default 10 GiB). */
    size?: number;
    /** Keep this share of the cache's file system free (default 0.1). */
    freeSpaceRatio?: number;
    /** Stage written blocks in `<dir>` and upload them in the background (needs dir). */
    writeback?: boolean;
    /** Write-back uploads in flight (default 8). */
    writebackUploads?: number;
    /** fsync each staged block before its write returns (default false). */
    writebackFsync?: boolean;
  };
  /** This client's rate limits (0 = unlimited); the volume's (format record qos) apply too, the lower one wins. */
  qos?: {
    /** MiB/s written to the object store. */
    uploadLimit?: number;
    /** MiB/s read from the object store (cache hits are free). */
    downloadLimit?: number;
    /** Metadata operations per second. */
    opsLimit?: number;
  };
  /** Cache group membership (clients of one region share their disk caches). */
  group?: {
    name: string;
    /** host:port this member serves blocks on (default 127.0.0.1 and a free port). */
    address?: string;
    region?: string;
    zone?: string;
    /** Members holding each block (default 1). */
    replicas?: number;
    /** Use the group but keep no disk cache and serve nobody (a forwarding client). */
    noSharing?: boolean;
    /** Session label of a member (shown by `ferry status`). */
    label?: string;
    /** Tuning, mostly for tests. */
    tuning?: { peerTimeoutMs?: number; downMs?: number; heartbeatMs?: number; memberTimeoutMs?: number; refreshMs?: number };
    /** TLS of the member's block server (PEM files): certificate and key; the CA peers' certificates are checked against. */
    tls?: { cert?: string; key?: string; ca?: string };
  };
  /** Object store options overriding the format's (credentials, endpoint, ...): see object/interface.ts. */
  objects?: Record<string, unknown>;
  /** Options of a mirror's own object store. */
  mirrorObjects?: Record<string, unknown>;
  /** Unlocks an encrypted volume (else FERRY_ENCRYPT_KEY_FILE / FERRY_ENCRYPT_PASSPHRASE / the format's hint). */
  encryption?: { keyFile?: string; passphrase?: string; source?: string };
  /** Automatic metadata backups into the object store (client/backup.ts): seconds between them (0 = off), backups kept. */
  backupMeta?: { interval?: number; keep?: number };
  /** A scoped access key's token (ACCESS-KEY:SECRET, `ferry gateway keys add`): the SDK and a mount act as the key, within its scope. */
  access?: { token?: string; tokenFile?: string };
  /** FUSE mounts only. */
  mount?: {
    /** Extra -o options for the kernel/libfuse (allow_other, ...). */
    fuseOptions?: string[];
    /** The kernel's writeback cache (FUSE_CAP_WRITEBACK_CACHE); separate from cache.writeback. */
    kernelWritebackCache?: boolean;
    /** KiB of kernel read-ahead for the mount (default 16384). */
    readAheadKb?: number;
    /** A directory of the volume served as the mount's root. */
    subdir?: string;
    /** Mount over a directory that has files (hidden while mounted); refused otherwise, as other FUSE file systems do. */
    nonempty?: boolean;
  };
}

type Shape = 'string' | 'boolean' | 'number' | 'strings' | 'object' | { [k: string]: Shape };

// The shape every config is checked against: unknown keys and wrong types are refused by name, so a
// config file written by a newer FerryFS or by hand fails with one clear line instead of being half used.
const SHAPE: { [k: string]: Shape } = {
  metaUrl: 'string',
  sessionLabel: 'string',
  role: 'string',
  metrics: 'string',
  readOnly: 'boolean',
  metaCache: { attrTimeout: 'number', entryTimeout: 'number', dirEntryTimeout: 'number' },
  mirrorWaitMs: 'number',
  data: { bufferLimit: 'number', maxReadahead: 'number', prefetch: 'number', missingBlockWaitMs: 'number', backgroundJobs: 'boolean' },
  cache: {
    memorySize: 'number',
    dir: 'string',
    size: 'number',
    freeSpaceRatio: 'number',
    writeback: 'boolean',
    writebackUploads: 'number',
    writebackFsync: 'boolean',
  },
  qos: { uploadLimit: 'number', downloadLimit: 'number', opsLimit: 'number' },
  group: {
    name: 'string',
    address: 'string',
    region: 'string',
    zone: 'string',
    replicas: 'number',
    noSharing: 'boolean',
    label: 'string',
    tuning: { peerTimeoutMs: 'number', downMs: 'number', heartbeatMs: 'number', memberTimeoutMs: 'number', refreshMs: 'number' },
    tls: { cert: 'string', key: 'string', ca: 'string' },
  },
  objects: 'object',
  mirrorObjects: 'object',
  encryption: { keyFile: 'string', passphrase: 'string', source: 'string' },
  backupMeta: { interval: 'number', keep: 'number' },
  access: { token: 'string', tokenFile: 'string' },
  mount: { fuseOptions: 'strings', kernelWritebackCache: 'boolean', readAheadKb: 'number', subdir: 'string', nonempty: 'boolean' },
};

function bad(path: string, why: string): FsError {
  return new FsError('EINVAL', { message: `client config: ${path} ${why}` });
}

function check(value: unknown, shape: Shape, path: string): void {
  if (value === undefined) return;
  if (typeof shape === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(path, 'must be an object');
    for (const [k, v] of Object.entries(value)) {
      const s = shape[k];
      if (!s) throw bad(path ? `${path}.${k}` : k, 'is not a known setting');
      check(v, s, path ? `${path}.${k}` : k);
    }
    return;
  }
  switch (shape) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad(path, 'must be a number >= 0');
      return;
    case 'strings':
      if (!Array.isArray(value) || value.some((x) => typeof x !== 'string')) throw bad(path, 'must be a list of strings');
      return;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(path, 'must be an object');
      return;
    default:
      if (typeof value !== shape) throw bad(path, `must be a ${shape}`);
  }
}

/** Checks a config (from a file, the CLI or the SDK) once; throws EINVAL naming the first bad setting. */
export function validateConfig(c: unknown): ClientConfig {
  check(c, SHAPE, '');
  const cfg = c as ClientConfig;
  if (!cfg.metaUrl) throw bad('metaUrl', 'is required');
  if (cfg.cache?.writeback && !cfg.cache.dir) {
    throw new FsError('EINVAL', {
      message: 'write-back (--writeback, writeback: true) needs a disk cache (--cache-dir DIR, cacheDir): blocks are staged there before they are uploaded',
    });
  }
  if (cfg.cache?.freeSpaceRatio !== undefined && !(cfg.cache.freeSpaceRatio < 1)) throw bad('cache.freeSpaceRatio', 'must be in [0, 1)');
  if (cfg.group && !cfg.group.name) throw bad('group.name', 'is required');
  return cfg;
}

/** Writes a config atomically (temp file + rename) for another process to read back; mode 0600: it may hold keys. */
export async function saveConfig(path: string, cfg: ClientConfig): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(validateConfig(cfg), null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

export async function loadConfig(path: string): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FsError('ENOENT', { message: `client config ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}` });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FsError('EINVAL', { message: `client config ${path}: not JSON (${(e as Error).message})` });
  }
  return validateConfig(json);
}
