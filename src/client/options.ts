// The one table mapping every way a user sets a client option onto ClientConfig: the CLI flag (`--cache-dir`),
// the same name as a mount option (`mount.ferry ... -o cache-dir=/var/cache/ferry`, fstab), and the SDK's
// option key (`Volume.open(url, { cacheDir })`). Commands pick their rows by `doors`; parsing of flag text
// (sizes, counts) is the CLI's (cli/client-flags.ts), the mapping is here, once.
import type { ClientConfig } from './config.js';

/** `duration`: text such as 1h, 30m, 90s or plain seconds, stored as seconds. */
export type OptionKind = 'string' | 'boolean' | 'size' | 'count' | 'seconds' | 'duration' | 'ratio' | 'address';

/**
 * Which commands take a row: every long-running process takes `service` (mount, gateway, meta-server, mirror
 * replicator, cache member); every serving door takes `local`; `group` adds cache-group membership.
 */
export type OptionDoor = 'service' | 'local' | 'group' | 'mount';

export interface ClientOption {
  /** CLI flag and mount option name. */
  flag: string;
  /** Key in the SDK's VolumeOptions. */
  sdk: string;
  /** Where it lands in ClientConfig. */
  path: readonly [keyof ClientConfig] | readonly [keyof ClientConfig, string];
  kind: OptionKind;
  door: OptionDoor;
  arg?: string;
  /** Smallest and largest value of a count. */
  min?: number;
  max?: number;
  help: string;
}

export const CLIENT_OPTIONS: readonly ClientOption[] = [
  // -- every long-running process
  {
    flag: 'metrics',
    sdk: 'metrics',
    path: ['metrics'],
    kind: 'address',
    door: 'service',
    arg: 'HOST:PORT',
    help: 'serve Prometheus metrics at http://HOST:PORT/metrics (port 0: a free port; ferry stats reads them)',
  },
  // -- caches every door that serves data takes
  { flag: 'cache-dir', sdk: 'cacheDir', path: ['cache', 'dir'], kind: 'string', door: 'local', arg: 'DIR', help: 'local disk cache of blocks (LRU, survives restarts)' },
  { flag: 'cache-size', sdk: 'cacheSize', path: ['cache', 'size'], kind: 'size', door: 'local', arg: 'SIZE', help: 'disk cache size limit (default 10G)' },
  { flag: 'free-space-ratio', sdk: 'freeSpaceRatio', path: ['cache', 'freeSpaceRatio'], kind: 'ratio', door: 'local', arg: 'R', help: 'keep this share of the cache disk free (default 0.1)' },
  { flag: 'memory-cache-size', sdk: 'memoryCacheSize', path: ['cache', 'memorySize'], kind: 'size', door: 'local', arg: 'SIZE', help: 'blocks kept in memory (default 0, or 64M with a disk cache or group)' },
  {
    flag: 'writeback',
    sdk: 'writeback',
    path: ['cache', 'writeback'],
    kind: 'boolean',
    door: 'local',
    help: 'write-back: stage written blocks in --cache-dir and upload them in the background (fast close/small files; a host crash can lose blocks not uploaded yet)',
  },
  { flag: 'writeback-uploads', sdk: 'writebackUploads', path: ['cache', 'writebackUploads'], kind: 'count', door: 'local', arg: 'N', min: 1, max: 1024, help: 'write-back uploads in flight (default 8)' },
  // -- QoS: this client's own limits (the volume's, set by ferry config, apply too: the lower one wins)
  { flag: 'upload-limit', sdk: 'uploadLimit', path: ['qos', 'uploadLimit'], kind: 'count', door: 'local', arg: 'MIBPS', min: 0, help: 'upload at most this many MiB/s to the object store (default 0 = unlimited)' },
  { flag: 'download-limit', sdk: 'downloadLimit', path: ['qos', 'downloadLimit'], kind: 'count', door: 'local', arg: 'MIBPS', min: 0, help: 'download at most this many MiB/s from the object store (default 0 = unlimited)' },
  // -- the data path's memory and read-ahead
  { flag: 'buffer-size', sdk: 'bufferLimit', path: ['data', 'bufferLimit'], kind: 'size', door: 'local', arg: 'SIZE', help: 'memory for write buffers, and as much again for read-ahead, of all open files (default 256M)' },
  { flag: 'prefetch', sdk: 'prefetch', path: ['data', 'prefetch'], kind: 'count', door: 'local', arg: 'N', min: 0, max: 256, help: 'blocks a sequential reader fetches ahead at most, in parallel (default 16; 0 = no read-ahead)' },
  { flag: 'ops-limit', sdk: 'opsLimit', path: ['qos', 'opsLimit'], kind: 'count', door: 'local', arg: 'N', min: 0, help: 'at most N metadata operations per second (default 0 = unlimited)' },
  // -- metadata backups into the object store (docs/operations.md), one client of the volume at a time
  {
    flag: 'backup-meta',
    sdk: 'backupMeta',
    path: ['backupMeta', 'interval'],
    kind: 'duration',
    door: 'local',
    arg: 'INTERVAL',
    help: 'back up the metadata into the object store (NAME/meta/dump-*.json.gz) this often, e.g. 1h (default 0 = off)',
  },
  { flag: 'backup-meta-keep', sdk: 'backupMetaKeep', path: ['backupMeta', 'keep'], kind: 'count', door: 'local', arg: 'N', min: 1, max: 100000, help: 'metadata backups kept, newest first (default 24)' },
  // -- cache group membership (mount; the gateway's --region is S3's)
  { flag: 'cache-group', sdk: 'cacheGroup', path: ['group', 'name'], kind: 'string', door: 'group', arg: 'NAME', help: 'share caches with the members of this group in the region' },
  { flag: 'group-address', sdk: 'groupAddress', path: ['group', 'address'], kind: 'string', door: 'group', arg: 'HOST:PORT', help: 'address this member serves blocks on (default 127.0.0.1, free port)' },
  { flag: 'region', sdk: 'region', path: ['group', 'region'], kind: 'string', door: 'group', arg: 'NAME', help: 'region of this cache group member' },
  { flag: 'zone', sdk: 'zone', path: ['group', 'zone'], kind: 'string', door: 'group', arg: 'NAME', help: 'zone of this member (replicas prefer other zones)' },
  { flag: 'replicas', sdk: 'replicas', path: ['group', 'replicas'], kind: 'count', door: 'group', arg: 'N', min: 1, max: 16, help: 'group members holding each block (default 1)' },
  { flag: 'no-sharing', sdk: 'noSharing', path: ['group', 'noSharing'], kind: 'boolean', door: 'group', help: 'use the cache group without caching or serving blocks here' },
  // -- the mount's own
  { flag: 'read-only', sdk: 'readOnly', path: ['readOnly'], kind: 'boolean', door: 'mount', help: 'mount read-only (writes fail with EROFS)' },
  { flag: 'attr-cache', sdk: 'attrTimeout', path: ['metaCache', 'attrTimeout'], kind: 'seconds', door: 'mount', arg: 'SECONDS', help: 'attribute cache timeout (default 1)' },
  { flag: 'entry-cache', sdk: 'entryTimeout', path: ['metaCache', 'entryTimeout'], kind: 'seconds', door: 'mount', arg: 'SECONDS', help: 'file entry cache timeout (default 1)' },
  { flag: 'dir-entry-cache', sdk: 'dirEntryTimeout', path: ['metaCache', 'dirEntryTimeout'], kind: 'seconds', door: 'mount', arg: 'SECONDS', help: 'directory entry cache timeout (default: --entry-cache)' },
  {
    flag: 'writeback-cache',
    sdk: 'kernelWritebackCache',
    path: ['mount', 'kernelWritebackCache'],
    kind: 'boolean',
    door: 'mount',
    help: 'let the kernel buffer writes (FUSE writeback cache: many tiny writes become few; weaker close-to-open; separate from --writeback)',
  },
  { flag: 'read-ahead', sdk: 'readAheadKb', path: ['mount', 'readAheadKb'], kind: 'count', door: 'mount', arg: 'KIB', help: 'kernel read-ahead of the mount in KiB (default 16384)' },
  { flag: 'nonempty', sdk: 'nonempty', path: ['mount', 'nonempty'], kind: 'boolean', door: 'mount', help: 'mount even if MOUNTPOINT has files (they are hidden until unmounted)' },
  {
    flag: 'token-file',
    sdk: 'tokenFile',
    path: ['access', 'tokenFile'],
    kind: 'string',
    door: 'mount',
    arg: 'FILE',
    help: 'act as this access key within its scope (a file holding ACCESS-KEY:SECRET, from ferry gateway keys add)',
  },
  { flag: 'subdir', sdk: 'subdir', path: ['mount', 'subdir'], kind: 'string', door: 'mount', arg: 'DIR', help: 'mount this directory of the volume as the root (it must exist)' },
];

/** Options of the SDK that are not user flags: how the SDK's VolumeOptions map onto ClientConfig besides the table. */
export const SDK_ONLY: Record<string, readonly [keyof ClientConfig] | readonly [keyof ClientConfig, string]> = {
  mountPoint: ['sessionLabel'],
  waitTimeoutMs: ['mirrorWaitMs'],
  maxReadahead: ['data', 'maxReadahead'],
  missingBlockWaitMs: ['data', 'missingBlockWaitMs'],
  backgroundJobs: ['data', 'backgroundJobs'],
  writebackFsync: ['cache', 'writebackFsync'],
  groupLabel: ['group', 'label'],
  groupTuning: ['group', 'tuning'],
  objectOptions: ['objects'],
  mirrorObjectOptions: ['mirrorObjects'],
  encryption: ['encryption'],
  token: ['access', 'token'],
};

/** Sets one value at its path in a config (creating the section). */
export function setOption(cfg: ClientConfig, path: readonly string[], value: unknown): void {
  const c = cfg as unknown as Record<string, Record<string, unknown>>;
  if (path.length === 1) {
    (c as Record<string, unknown>)[path[0]!] = value;
    return;
  }
  c[path[0]!] ??= {};
  c[path[0]!]![path[1]!] = value;
}

/** A config from the SDK's flat options (`{ cacheDir, attrTimeout, readOnly, ... }`); unknown keys are ignored. */
export function configFromSdkOptions(metaUrl: string, opts: Record<string, unknown>): ClientConfig {
  const cfg: ClientConfig = { metaUrl };
  for (const o of CLIENT_OPTIONS) if (opts[o.sdk] !== undefined) setOption(cfg, o.path, opts[o.sdk]);
  for (const [key, path] of Object.entries(SDK_ONLY)) if (opts[key] !== undefined) setOption(cfg, path, opts[key]);
  return cfg;
}
