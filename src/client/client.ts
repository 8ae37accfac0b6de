// openClient(config): the one assembly of a volume client — metadata (a mirror client for a mirror's URL),
// the format record, the chunk store with its caches, the VFS and the client session. Every door (SDK, FUSE,
// S3 gateway, CLI, mirror service, later WebHDFS and CSI) gets its client here and never stacks these itself.
// Whatever fails half-way, everything opened so far is closed again.
import { bindOrTakeOver, DeferredBinds, upgradesSoFar } from './listen.js';
import type { BlockCache } from '../chunk/block-cache.js';
import type { ChunkStore } from '../chunk/index.js';
import type { Meta } from '../meta/interface.js';
import { rootContext, type Context, type Format } from '../meta/types.js';
// From the files, not mirror/index.js: a client needs neither the replicator nor the data copier.
import { MirrorMeta } from '../mirror/mirror-meta.js';
import { openVolume } from '../mirror/setup.js';
import { CachedObjectStore } from '../cache/store.js';
import { meteredMeta } from '../meta/metered.js';
import { activeMetrics, serveMetrics, type FerryMetrics } from '../object/metrics.js';
import { VFS } from '../vfs/vfs.js';
import { FERRY_VERSION } from '../version.js';
import { VfsView } from '../vfs/view.js';
import { validateConfig, type ClientConfig } from './config.js';
import { writebackSessionProbe } from './pending-uploads.js';
import type { ClientProbe } from './probe.js';
import { watchCache, watchVfs } from './metrics.js';
import { ClientQos } from './qos.js';
import type { MetaBackups } from './backup.js';
import { openChunkStore, openRawVolumeObjects, type Log } from './storage.js';

export interface ClientRuntime {
  /** Progress and warning lines (write-back summaries, mirror waits); default: stderr. */
  log?: Log;
  /** Counts and times the client's metadata calls and object requests (ferry bench). */
  probe?: ClientProbe;
  /** Continue this session of an earlier process of the same mount (a handover) instead of opening one. */
  adoptSession?: number;
  /**
   * This process succeeds another one of the same mount (a FUSE takeover or standby, docs/upgrade.md), which
   * still holds what one process at a time may: the write-back staging directory and the --metrics port are
   * taken only by claim(), once the other let go (or passed the listening socket).
   */
  successor?: boolean;
}

export interface Client {
  readonly config: ClientConfig;
  readonly meta: Meta;
  readonly format: Format;
  readonly store: ChunkStore;
  /** The block cache of the chunk store, when the config asks for one. */
  readonly cache?: BlockCache;
  readonly vfs: VFS;
  /**
   * Stops without closing the session or the open files: another process took them over (a FUSE handover).
   * Uploads of staged blocks in flight finish; the rest stay staged for the next process.
   */
  detach(): Promise<void>;
  /**
   * The first part of detach, at the handover itself: background jobs stop, the write-back staging directory
   * and the metrics port are let go; the metadata stays open (detach closes it).
   */
  handOff(): Promise<void>;
  /**
   * With `successor`: listens on the metrics address (on the socket given by key in `listeners`, else
   * binding it) and takes the write-back staging directory once the previous process let it go. The
   * staging part runs on in the background: `staging` resolves when it is taken.
   */
  claim(listeners?: Map<string, number>): Promise<{ staging: Promise<void> }>;
  /** This client's session id in the metadata engine. */
  readonly sessionId: number;
  /** Writes are refused (a read-only config, or a read-only mirror). */
  readonly readOnly: boolean;
  /** Automatic metadata backups into the object store (config backupMeta), when this client runs them. */
  readonly backups?: MetaBackups;
  /** This process's metrics when the config asks for them (`metrics`): doors count their own operations in it. */
  readonly metrics?: FerryMetrics;
  /** Where the metrics are served (HOST:PORT, the port bound), also recorded in the session. */
  readonly metricsAddress?: string;
  /** The inode-level view doors work through: this client acting as `ctx`'s user. */
  view(ctx: Context): VfsView;
  /** Flushes open files, stops background jobs, ends the session, closes the engine and the stores. */
  close(): Promise<void>;
}

const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

/** A default session label: the program running (`sdk:/path/to/script.js`). */
export function defaultSessionLabel(): string {
  return `sdk:${process.argv[1] ?? ''}`;
}

export async function openClient(config: ClientConfig, rt: ClientRuntime = {}): Promise<Client> {
  const cfg = validateConfig(config);
  const log = rt.log ?? stderrLog;
  // Undone in reverse order if a later step fails.
  const undo: Array<() => Promise<unknown>> = [];
  const unwind = async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  try {
    // First: a busy metrics port fails before anything is opened. The metrics are enabled before the stores
    // open, which then count their requests (storage.ts).
    const deferred = rt.successor ? new DeferredBinds() : undefined;
    const endpoint = cfg.metrics !== undefined ? await serveMetrics(cfg.metrics, deferred?.bind ?? bindOrTakeOver) : undefined;
    if (endpoint) undo.push(() => endpoint.close());
    const metrics = endpoint ? activeMetrics() : undefined;
    // A read-only client of a writable mirror never connects to the far source.
    // The format record as it was read to tell a mirror from a volume: loaded once per open.
    const { meta: rawMeta, format } = await openVolume(cfg.metaUrl, { readOnly: cfg.readOnly, waitTimeoutMs: cfg.mirrorWaitMs, log: (m) => log(`ferry: ${m}`) });
    undo.push(() => rawMeta.close());
    // Rate limits (QoS): the client's own and the volume's; the proxy charges metadata operations and keeps
    // the limits' format record current (the VFS's format refresh goes through it).
    const qos = new ClientQos(cfg.qos, format);
    const charged = metrics ? meteredMeta(qos.wrapMeta(rawMeta), metrics) : qos.wrapMeta(rawMeta);
    const meta = rt.probe ? rt.probe.wrapMeta(charged) : charged;
    const store = await openChunkStore(format, cfg, log, qos, rt.probe, rt.successor === true);
    undo.push(() => store.objects.close());
    // `writeback`: this client commits slices before their blocks are uploaded (readers of a missing block
    // wait only while such a session is alive).
    const cached = store.cache instanceof CachedObjectStore ? store.cache : undefined;
    const info = {
      mountPoint: cfg.sessionLabel ?? defaultSessionLabel(),
      ...(cfg.role ? { role: cfg.role } : {}),
      writeback: Boolean(cfg.cache?.writeback),
      ...(endpoint ? { metrics: endpoint.address } : {}),
      // A door started by an upgrade (cli/upgrade.ts) says how many: `ferry status` shows it.
      ...(upgradesSoFar() ? { upgrades: upgradesSoFar() } : {}),
    };
    let sessionId: number;
    if (rt.adoptSession !== undefined) {
      await meta.adoptSession(rt.adoptSession, { ...info, pid: process.pid, version: FERRY_VERSION }, { held: [], open: [] });
      sessionId = rt.adoptSession;
    } else {
      sessionId = await meta.newSession(info);
    }
    undo.push(() => meta.closeSession());
    // A mirror's blocks may also be on their way from its data copier: its readers keep waiting.
    if (!(rawMeta instanceof MirrorMeta)) store.uploadsMayBePending = writebackSessionProbe(meta);
    // A read-only mirror refuses writes before any block is uploaded.
    const readOnly = Boolean(cfg.readOnly) || (rawMeta instanceof MirrorMeta && !rawMeta.writable);
    const d = cfg.data ?? {};
    const vfs = new VFS(meta, store, format, {
      attrTimeout: cfg.metaCache?.attrTimeout,
      entryTimeout: cfg.metaCache?.entryTimeout,
      bufferLimit: d.bufferLimit,
      maxReadahead: d.maxReadahead ?? readaheadOf(d.prefetch, format.blockSize),
      backgroundJobs: d.backgroundJobs,
      readOnly,
    });
    // One client of the volume at a time backs up (a lease); a read-only client never writes into the store.
    const b = cfg.backupMeta;
    // Loaded only when asked for: the dump code stays off the start-up path of every other client.
    const backups =
      b?.interval && !readOnly && d.backgroundJobs !== false
        ? new (await import('./backup.js')).MetaBackups(meta, format, () => openRawVolumeObjects(format, cfg), b, log)
        : undefined;
    backups?.start();
    // `ferry status` shows each client's open files and write-back backlog, sent with its heartbeats.
    vfs.jobs.sessionReport = () => ({ openFiles: vfs.openHandles, writebackPending: cached?.staging?.stats.pending ?? 0 });
    const unwatch = metrics ? [watchVfs(metrics, vfs), ...(cached ? [watchCache(metrics, cached)] : [])] : [];
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        let err: unknown;
        const step = async (f: () => Promise<unknown>) => {
          try {
            await f();
          } catch (e) {
            err ??= e;
          }
        };
        await step(async () => backups?.stop());
        await step(() => vfs.shutdown(rootContext()));
        await step(() => meta.closeSession());
        await step(() => meta.close());
        await step(() => store.objects.close());
        unwatch.forEach((u) => u());
        if (endpoint) await step(() => endpoint.close());
        if (err) throw err;
      })());
    // Handed over: background work stops and what one process at a time holds goes to the next one at once;
    // the metadata stays open for lock waits still running here (src/fuse/server.ts).
    let handingOff: Promise<void> | undefined;
    const handOff = () =>
      (handingOff ??= (async () => {
        await backups?.stop().catch(() => undefined);
        await vfs.stop();
        // Staged blocks stay staged: the next process uploads them (cache/staging.ts release/claim).
        await cached?.handOverStaging().catch((e: Error) => log(`ferry: handing the write-back staging over: ${e.message}`));
        if (endpoint) await endpoint.close(true).catch(() => undefined);
      })());
    // Handed over: everything stops here, but the session (locks, open files) lives on in the next process.
    const detach = () =>
      (closing ??= (async () => {
        await handOff();
        await meta.close().catch(() => undefined);
        await store.objects.close().catch(() => undefined);
        unwatch.forEach((u) => u());
      })());
    let claimed: Promise<{ staging: Promise<void> }> | undefined;
    const claim = (listeners?: Map<string, number>) =>
      (claimed ??= (async () => {
        await deferred?.claim(listeners);
        // Where the metrics are now served (a port picked at bind time, for ferry stats).
        if (endpoint && deferred) await meta.setSessionInfo({ metrics: endpoint.address }).catch(() => undefined);
        const staging = cached?.staging ? cached.staging.claim() : Promise.resolve();
        staging.catch((e: Error) => log(`ferry: write-back: taking over the staging directory: ${e.message}`));
        return { staging };
      })());
    return { config: cfg, meta, format, store, cache: store.cache, vfs, sessionId, readOnly, backups, metrics, get metricsAddress() {
      return endpoint?.address;
    }, view: (ctx) => new VfsView(vfs, ctx), close, detach, handOff, claim };
  } catch (e) {
    await unwind();
    throw e;
  }
}

/** Default blocks fetched ahead: enough gets in flight to fill a link of a few Gbit/s 20 ms away. */
export const DEFAULT_PREFETCH = 16;

/** The read-ahead window in bytes for `prefetch` blocks (the default is capped at 256 MiB for huge blocks). */
function readaheadOf(prefetch: number | undefined, blockSize: number): number {
  if (prefetch !== undefined) return prefetch * blockSize;
  return Math.min(DEFAULT_PREFETCH * blockSize, Math.max(256 << 20, blockSize));
}

/** The caller's identity for permission checks, from explicit ids or this process's. */
export function processContext(id: { uid?: number; gid?: number; gids?: number[]; umask?: number } = {}): Context {
  const uid = id.uid ?? process.getuid?.() ?? 0;
  const gid = id.gid ?? process.getgid?.() ?? 0;
  return {
    uid,
    gid,
    gids: id.gids ?? [gid, ...(process.getgroups?.() ?? [])],
    pid: process.pid,
    umask: id.umask ?? 0o022,
    checkPermission: true,
  };
}
