// What each long-running component contributes to this process's metrics (object/metrics.ts) beyond the
// timed operations: readers of the counters the components keep anyway (cache tiers, write-back queue,
// cache-group traffic, open files, replication progress), evaluated only when Prometheus scrapes. Every
// process (mount, gateway, meta-server, mirror replicator and copier, cache member) registers here, so the
// names are defined once; the README lists them and docs/grafana-ferryfs.json charts them.
import type { CachedObjectStore } from '../cache/store.js';
import type { DataCopier } from '../mirror/data-copier.js';
import type { Replicator } from '../mirror/replicator.js';
import type { FerryMetrics, PolledDef, Reading } from '../object/metrics.js';
import type { VFS } from '../vfs/vfs.js';

const counter = (name: string, help: string, labels?: string[]): PolledDef => ({ name, help, type: 'counter', labels });
const gauge = (name: string, help: string, labels?: string[]): PolledDef => ({ name, help, type: 'gauge', labels });

export const CACHE_HITS = counter('ferry_cache_hits_total', 'Block reads served by a cache tier (memory, staging, disk, group).', ['tier']);
export const CACHE_HIT_BYTES = counter('ferry_cache_hit_bytes_total', 'Bytes of block reads served by a cache tier.', ['tier']);
export const CACHE_MISSES = counter('ferry_cache_misses_total', 'Block reads no cache tier had: fetched from the object store.');
export const CACHE_MISS_BYTES = counter('ferry_cache_miss_bytes_total', 'Bytes fetched from the object store for block reads.');
export const CACHE_USED = gauge('ferry_cache_used_bytes', 'Bytes held by a cache tier (memory, disk).', ['tier']);
export const CACHE_BLOCKS = gauge('ferry_cache_blocks', 'Blocks held by a cache tier (memory, disk).', ['tier']);
export const WRITEBACK_PENDING = gauge('ferry_writeback_pending_blocks', 'Write-back: blocks staged and not uploaded yet.');
export const WRITEBACK_PENDING_BYTES = gauge('ferry_writeback_pending_bytes', 'Write-back: bytes staged and not uploaded yet.');
export const WRITEBACK_UPLOADED_BYTES = counter('ferry_writeback_uploaded_bytes_total', 'Write-back: staged bytes uploaded.');
export const GROUP_REQUESTS = counter('ferry_cache_group_requests_total', 'Cache group requests: sent to peers, served to peers.', ['direction']);
export const GROUP_BYTES = counter('ferry_cache_group_bytes_total', 'Cache group block bytes: received from peers, sent (served) to peers.', ['direction']);
export const GROUP_FAILURES = counter('ferry_cache_group_peer_failures_total', 'Cache group requests to peers that failed (the object store was read instead).');
export const OPEN_FILES = gauge('ferry_open_files', 'Files open through this client (handles).');
export const MIRROR_APPLIED = gauge('ferry_mirror_applied_version', 'Mirror: the last source version applied.');
export const MIRROR_SOURCE = gauge('ferry_mirror_source_version', 'Mirror: the newest source version seen.');
export const MIRROR_LAG = gauge('ferry_mirror_lag_versions', 'Mirror: source versions not applied yet (replication lag).');
export const MIRROR_LAG_SECONDS = gauge('ferry_mirror_lag_seconds', 'Mirror: age of the oldest change not applied yet (0 when caught up).');
export const COPIER_BLOCKS = counter('ferry_mirror_copied_blocks_total', 'Mirror data copier: blocks copied into the mirror\'s store.');
export const COPIER_BYTES = counter('ferry_mirror_copied_bytes_total', 'Mirror data copier: bytes copied into the mirror\'s store.');
export const COPIER_PENDING = gauge('ferry_mirror_copy_pending_blocks', 'Mirror data copier: blocks waiting to be copied.');
export const META_SERVER_CLIENTS = gauge('ferry_meta_server_clients', 'Meta-server: clients with an open connection to the engine.');

/** Registers readers; returns what removes them all. */
function register(m: FerryMetrics, readers: Array<[PolledDef, () => Reading]>): () => void {
  const undo = readers.map(([def, read]) => m.poll(def, read));
  return () => undo.forEach((u) => u());
}

/** The cache tiers, write-back staging and cache-group traffic of a cache stack (a client's or a member's). */
export function watchCache(m: FerryMetrics, c: CachedObjectStore): () => void {
  const s = c.stats;
  return register(m, [
    [CACHE_HITS, () => [[['memory'], s.memoryHits], [['staging'], s.stagingHits], [['disk'], s.diskHits], [['group'], s.groupHits]]],
    [CACHE_HIT_BYTES, () => [[['memory'], s.memoryHitBytes], [['staging'], s.stagingHitBytes], [['disk'], s.diskHitBytes], [['group'], s.groupHitBytes]]],
    [CACHE_MISSES, () => s.storeGets],
    [CACHE_MISS_BYTES, () => s.storeBytes],
    [CACHE_USED, () => [[['memory'], c.memory?.used ?? 0], [['disk'], c.disk?.used ?? 0]]],
    [CACHE_BLOCKS, () => [[['memory'], c.memory?.count ?? 0], [['disk'], c.disk?.count ?? 0]]],
    [WRITEBACK_PENDING, () => c.staging?.stats.pending ?? 0],
    [WRITEBACK_PENDING_BYTES, () => c.staging?.stats.pendingBytes ?? 0],
    [WRITEBACK_UPLOADED_BYTES, () => c.staging?.stats.uploadedBytes ?? 0],
    [GROUP_REQUESTS, () => [[['sent'], c.group?.stats.peerRequests ?? 0], [['served'], c.group?.stats.served ?? 0]]],
    [GROUP_BYTES, () => [[['received'], s.groupHitBytes], [['sent'], c.group?.stats.servedBytes ?? 0]]],
    [GROUP_FAILURES, () => c.group?.stats.peerFailures ?? 0],
  ]);
}

export function watchVfs(m: FerryMetrics, vfs: VFS): () => void {
  return register(m, [[OPEN_FILES, () => vfs.openHandles]]);
}

export function watchReplicator(m: FerryMetrics, r: Replicator): () => void {
  return register(m, [
    [MIRROR_APPLIED, () => r.applied],
    [MIRROR_SOURCE, () => Math.max(r.sourceVersion, r.applied)],
    [MIRROR_LAG, () => Math.max(0, r.sourceVersion - r.applied)],
    [MIRROR_LAG_SECONDS, () => (r.sourceVersion > r.applied && r.appliedTs ? Math.max(0, (Date.now() - r.appliedTs) / 1000) : 0)],
  ]);
}

export function watchCopier(m: FerryMetrics, c: DataCopier): () => void {
  return register(m, [
    [COPIER_BLOCKS, () => c.state?.copiedBlocks ?? 0],
    [COPIER_BYTES, () => c.state?.copiedBytes ?? 0],
    [COPIER_PENDING, () => c.state?.pendingBlocks ?? 0],
  ]);
}

export function watchMetaServer(m: FerryMetrics, clients: () => number): () => void {
  return register(m, [[META_SERVER_CLIENTS, clients]]);
}
