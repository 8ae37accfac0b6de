// Background work of a client, never inline in a user's call: session heartbeat, cleaning sessions of
// crashed clients, freeing deleted files' data, deleting freed objects, compacting fragmented chunks.
import { compactChunk, drainDeletedSlices, type ChunkStore } from '../chunk/index.js';
import { BackgroundErrors, type LogLine } from '../meta/background-errors.js';
import type { Meta } from '../meta/interface.js';
import { trimChangelog } from '../meta/retention.js';
import { rootContext, type TtlRunResult } from '../meta/types.js';

export const HEARTBEAT_MS = 10_000;
/** A session whose heartbeat is older than this belongs to a crashed client. */
export const SESSION_TIMEOUT_MS = 5 * 60_000;
const GC_DELAY_MS = 500;
const GC_PERIOD_MS = 30_000;
const TRIM_PERIOD_MS = 10 * 60_000;
/** Expired trash hours are purged this often (by one client at a time: the engine holds a lease). */
const TRASH_PERIOD_MS = 5 * 60_000;
/**
 * The format record is read again this often, so what `ferry readonly` or `ferry config` changes reaches
 * running clients (mounts, gateways) within seconds: one small read.
 */
export const FORMAT_REFRESH_MS = 2_000;
/** TTL expiry runs this often (one client at a time, through its own lease); it reads the TTL index only. */
const TTL_PERIOD_MS = 5 * 60_000;

export class BackgroundJobs {
  private timers: NodeJS.Timeout[] = [];
  private gcTimer?: NodeJS.Timeout;
  private running = Promise.resolve();
  private readonly compactions = new Set<string>();
  private stopped = true;
  /** stop() was called: a running collect() ends after its current batch. */
  private closing = false;
  /** The last error a job hit: jobs retry on their next run; it is logged once and shown by `ferry status`. */
  lastError?: unknown;
  private readonly errors: BackgroundErrors;
  private readonly log: LogLine;
  /**
   * Live figures of this client for its session record (open files, write-back backlog: `ferry status`):
   * sent with a heartbeat when they changed since the last one sent.
   */
  sessionReport?: () => Record<string, number>;
  private reported = '';
  /** The report of this client's last TTL expiry run that found due rows (with when it ran). */
  lastTtlRun?: TtlRunResult & { at: number };

  constructor(private readonly meta: Meta, private readonly store: ChunkStore, opts: { log?: LogLine } = {}) {
    this.errors = new BackgroundErrors(meta, opts.log);
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  start(opts: { writable?: boolean } = {}): void {
    this.stopped = false;
    const every = (ms: number, job: string, fn: () => Promise<unknown>) => {
      const t = setInterval(() => this.serial(job, fn), ms);
      t.unref();
      this.timers.push(t);
    };
    every(HEARTBEAT_MS, 'heartbeat', () => this.heartbeat());
    every(SESSION_TIMEOUT_MS / 5, 'cleaning of stale sessions', () => this.meta.cleanStaleSessions(SESSION_TIMEOUT_MS));
    every(GC_PERIOD_MS, 'gc', () => this.collect());
    every(TRIM_PERIOD_MS, 'changelog trimming', () => this.trimChangelog());
    if (opts.writable !== false) every(TRASH_PERIOD_MS, 'trash purge', () => this.purgeTrash());
    // Beside the serial jobs, not behind them: a long deletion must not delay a read-only mark.
    let reloading = false;
    const t = setInterval(() => {
      if (reloading) return;
      reloading = true;
      this.track('format refresh', this.meta.load().finally(() => (reloading = false)));
    }, FORMAT_REFRESH_MS);
    t.unref();
    this.timers.push(t);
    if (opts.writable !== false) every(TTL_PERIOD_MS, 'ttl expiry', () => this.expireTtl());
  }

  /** A heartbeat, carrying the session report when it changed (setSessionInfo heartbeats too). */
  async heartbeat(): Promise<void> {
    const report = this.sessionReport?.();
    const text = report ? JSON.stringify(report) : '';
    if (!report || text === this.reported) return this.meta.heartbeat();
    await this.meta.setSessionInfo(report);
    this.reported = text;
  }

  /** Moves the files whose TTL passed to the trash (when this client holds the expiry lease); one line per run that found any. */
  async expireTtl(now?: number): Promise<TtlRunResult | undefined> {
    const r = await this.meta.ttlExpireDue(now);
    if (!r?.rowsRead) return r;
    this.lastTtlRun = { ...r, at: Date.now() };
    this.log(`ferry: session ${this.meta.sid}: ttl expiry: ${r.expired} file(s) expired, ${r.rowsRead} index row(s) read (${r.stale} stale, ${r.refused} refused)`);
    if (r.expired) await this.collect(); // with the trash off they were freed
    return r;
  }

  /** Frees the trash hours older than the volume's trash days, then their data. */
  async purgeTrash(): Promise<void> {
    const r = await this.meta.trashPurgeExpired();
    if (r?.entries) await this.collect();
  }

  /** Trims the changelog as the volume's retention policy allows (meta/retention.ts), even when no replicator runs. */
  trimChangelog(): Promise<void> {
    return trimChangelog(this.meta);
  }

  /** Runs jobs one at a time so they never compete with each other for the engine; reports their errors. */
  private serial(job: string, fn: () => Promise<unknown>): Promise<void> {
    this.running = this.running.then(async () => {
      try {
        await fn();
      } catch (e) {
        this.lastError = e;
        await this.errors.failed(job, e);
        return;
      }
      await this.errors.succeeded(job);
    });
    return this.running;
  }

  /** Something was deleted: free it soon, batching bursts of deletes. */
  kick(): void {
    if (this.stopped || this.gcTimer) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      void this.collectInBackground();
    }, GC_DELAY_MS);
    this.gcTimer.unref();
  }

  /** Runs collect() as a background job now: after the jobs queued before it, its failure reported, not thrown. */
  collectInBackground(): Promise<void> {
    return this.serial('gc', () => this.collect());
  }

  /** Frees deleted files' chunks, then removes objects no slice references any more. */
  async collect(): Promise<void> {
    // Closes released in the background first: the files they let go are freed in this run.
    await Promise.all([...this.tracked]);
    // Batch by batch, so that stop() (an unmount) waits for one batch, not for every object of a large
    // delete against a remote store: what is left stays queued in the metadata for the next client's run.
    while (!this.closing && (await this.meta.processDeletedFiles(100)) > 0);
    while (!this.closing && (await drainDeletedSlices(this.meta, this.store, 1000)) > 0);
  }

  /** Compacts a chunk in the background; `swapped` runs when its slices were replaced. */
  compactLater(ino: number, indx: number, swapped: () => void): void {
    const key = `${ino}:${indx}`;
    if (this.stopped || this.compactions.has(key)) return;
    this.compactions.add(key);
    void this.serial('compaction', async () => {
      try {
        if ((await compactChunk(this.meta, this.store, rootContext(), ino, indx)).replaced) swapped();
      } finally {
        this.compactions.delete(key);
      }
    });
  }

  private readonly tracked = new Set<Promise<void>>();

  /**
   * Runs work the caller need not wait for (a close's release of its open-file record) beside the serial
   * jobs, so it is not queued behind a long deletion; its failure is reported like a job's.
   */
  track(job: string, work: Promise<unknown>): void {
    const p: Promise<void> = work.then(
      () => this.errors.succeeded(job),
      (e) => {
        this.lastError = e;
        return this.errors.failed(job, e);
      },
    );
    this.tracked.add(p);
    void p.finally(() => this.tracked.delete(p));
  }

  /** Waits for queued jobs and tracked work to finish (tests and `ferry gc` use it). */
  async idle(): Promise<void> {
    await Promise.all([...this.tracked]);
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.timers = [];
    this.gcTimer = undefined;
    await Promise.all([...this.tracked]);
    await this.running;
  }
}
