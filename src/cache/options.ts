// Client cache options and the one function that stacks the caches on a volume's object store.
//
// The caches sit directly on the backend store, BELOW block transforms (compression, encryption,
// checksums): they hold the bytes exactly as the object store holds them. So an encrypted volume's cache
// files are encrypted at rest, cache group members serve blocks without holding any key, a transform's
// checksum still checks every block that is read from a cache, and warm-up needs no keys. The price is
// decoding on every cache hit, as with JuiceFS, which also caches the stored (compressed/encrypted) block.
import { join } from 'node:path';
import { FsError } from '../errors.js';
import type { Format } from '../meta/types.js';
import type { ObjectStore } from '../object/interface.js';
import { checksumFault } from '../object/transforms/checksum.js';
import { DiskCache } from './disk.js';
import { CacheGroup } from './group.js';
import type { TlsFiles } from '../meta/service-auth.js';
import { MemoryCache } from './memory.js';
import { StagingArea } from './staging.js';
import { CachedObjectStore } from './store.js';

export interface CacheOptions {
  /** Bytes of whole blocks kept in memory (LRU; default 0 = none, or 64 MiB when a disk cache or group is used). */
  memoryCacheSize?: number;
  /** Local disk cache directory (each volume uses `<cacheDir>/<volume uuid>`); unset = no disk cache. */
  cacheDir?: string;
  /** Bytes the disk cache may use (default 10 GiB). */
  cacheSize?: number;
  /** Keep at least this share of the cache's file system free (default 0.1). */
  freeSpaceRatio?: number;
  /**
   * Write-back (needs cacheDir): a written block is staged in `<cacheDir>/<volume uuid>/staging/` and the
   * write returns; it is uploaded in the background and then kept in the disk cache. See docs/cache.md.
   */
  writeback?: boolean;
  /** Write-back uploads in flight at once (default 8). */
  writebackUploads?: number;
  /** fsync each staged block before its write returns (default false: a host crash can lose staged blocks). */
  writebackFsync?: boolean;
  /** Progress and summary lines (write-back uploads on close); warnings go to stderr without it. */
  log?: (line: string) => void;
  /** Write-back staging opened without its lock until claimed (StagingOptions.deferLock). */
  deferStagingLock?: boolean;
  /** Join (or, with noSharing, use) the cache group of this name. */
  cacheGroup?: string;
  /** host:port this member listens on and advertises (default 127.0.0.1 and a free port). */
  groupAddress?: string;
  region?: string;
  zone?: string;
  /** Members that hold each block (default 1). */
  replicas?: number;
  /** Use the group but keep no disk cache and serve nobody (a "forwarding" client). */
  noSharing?: boolean;
  /** The volume's metadata URL, where members register (required with cacheGroup). */
  groupMetaUrl?: string;
  /** Tuning of the group (peer timeout, heartbeats); mostly for tests. */
  groupTuning?: { peerTimeoutMs?: number; downMs?: number; heartbeatMs?: number; memberTimeoutMs?: number; refreshMs?: number };
  /** Session label of a member (shown by `ferry status`). */
  groupLabel?: string;
  /** Serve the member's blocks over TLS (cert + key), checking peers against ca. */
  groupTls?: TlsFiles;
}

export const DEFAULT_CACHE_SIZE = 10 * 2 ** 30;
export const DEFAULT_MEMORY_CACHE = 64 * 2 ** 20;

export function cachingEnabled(o: CacheOptions): boolean {
  return Boolean(o.cacheDir || o.cacheGroup || o.writeback || (o.memoryCacheSize ?? 0) > 0);
}

export async function openCachedStore(format: Format, inner: ObjectStore, o: CacheOptions): Promise<CachedObjectStore> {
  const blockPrefix = `${format.name}/chunks/`;
  const memSize = o.memoryCacheSize ?? (o.cacheDir || o.cacheGroup ? DEFAULT_MEMORY_CACHE : 0);
  const memory = memSize > 0 ? new MemoryCache(memSize) : undefined;
  const disk =
    o.cacheDir && !o.noSharing
      ? await DiskCache.open({
          dir: join(o.cacheDir, format.uuid),
          capacity: o.cacheSize ?? DEFAULT_CACHE_SIZE,
          freeSpaceRatio: o.freeSpaceRatio ?? 0.1,
        })
      : undefined;
  let staging: StagingArea | undefined;
  if (o.writeback) {
    if (!o.cacheDir) {
      await disk?.close();
      throw new FsError('EINVAL', { message: 'write-back (--writeback, writeback: true) needs a disk cache (--cache-dir DIR, cacheDir): blocks are staged there before they are uploaded' });
    }
    staging = await StagingArea.open({
      dir: join(o.cacheDir, format.uuid, 'staging'),
      store: inner,
      concurrency: o.writebackUploads,
      fsync: o.writebackFsync,
      // Memory holds what was staged (the same buffer): uploading from it spares reading the file back.
      peek: memory ? (key) => memory.get(key) : undefined,
      adopt: disk ? (key, file, size) => disk.adopt(key, file, size) : undefined,
      log: o.log,
      deferLock: o.deferStagingLock,
    });
  }
  // Staged blocks may fill the cache's share of the disk; beyond it writes wait for the object store again.
  const stagingLimit = o.cacheSize ?? DEFAULT_CACHE_SIZE;
  // A member checks blocks against the volume's block checksum, to serve peers checked ranges of them.
  const blockCheck = format.storage?.checksum === 'crc32c' ? checksumFault : undefined;
  const store = new CachedObjectStore(inner, { blockPrefix, memory, disk, writeback: o.writeback, staging, stagingLimit, log: o.log, blockCheck });
  if (o.cacheGroup) {
    if (!o.groupMetaUrl) throw new Error('cacheGroup needs groupMetaUrl (the volume metadata URL members register in)');
    const { openMeta } = await import('../meta/index.js');
    const meta = await openMeta(o.groupMetaUrl);
    try {
      await meta.load();
      store.group = await CacheGroup.start(
        meta,
        { uuid: format.uuid, blockPrefix },
        {
          name: o.cacheGroup,
          address: o.groupAddress,
          region: o.region,
          zone: o.zone,
          replicas: o.replicas,
          member: !o.noSharing,
          label: o.groupLabel,
          tls: o.groupTls,
          log: o.log,
          ...o.groupTuning,
        },
        store,
      );
      store.group.cacheStats = () => store.hitCounts();
    } catch (e) {
      await meta.close().catch(() => undefined);
      await store.staging?.close();
      await store.disk?.close();
      throw e;
    }
  }
  return store;
}
