// ferry sync's logic, written once over the Endpoint interface: both sides are listed in key order and
// merge-joined (as juicefs sync does), so memory stays flat however big the trees; what differs is copied by
// a pool of workers. A file is the same when size and time match (or, with checkAll, its bytes); --update
// keeps destination files newer than the source's; deleteDst removes what the source no longer has.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { compareKeys } from '../../object/util.js';
import type { Endpoint, SyncEntry } from './endpoint.js';
import { Filter, type Rule } from './filter.js';
import { TaskPool } from './pool.js';

export interface SyncOptions {
  /** Files copied at once (default 10, as juicefs sync). */
  threads?: number;
  /** Skip files whose destination copy is newer than the source's (rsync -u). */
  update?: boolean;
  /** Delete destination files and directories the source does not have (not those the filters exclude). */
  deleteDst?: boolean;
  /** --exclude / --include in command-line order (filter.ts). */
  rules?: Rule[];
  /** Report what would be done, change nothing. */
  dryRun?: boolean;
  /** Compare the bytes of files whose size and time match, not just size and time. */
  checkAll?: boolean;
  /**
   * Stops the run: no new work starts, copies in flight are cut off (their temporary files and uploads
   * removed, as a failed copy's are), and syncTrees rejects with the signal's reason once they have unwound.
   */
  signal?: AbortSignal;
}

export interface SyncStats {
  /** Entries listed on the source (after the filters). */
  scanned: number;
  /** Files and symlinks written (cloned ones included). */
  copied: number;
  /** Of them, cloned on one volume (no bytes moved). */
  cloned: number;
  /** Bytes of the files copied (cloned ones included: their size, though no byte moved). */
  bytes: number;
  /** Files found the same on both sides (or kept as newer with update). */
  skipped: number;
  deleted: number;
  /** Directories created on the destination. */
  dirs: number;
  failed: number;
}

export type SyncAction = 'copy' | 'clone' | 'link' | 'mkdir' | 'delete' | 'check' | 'touch';

export interface SyncEvents {
  /** Each change made (or, in a dry run, that would be made). */
  onAction?(action: SyncAction, key: string): void;
  /** An entry that could not be synced; the run goes on and counts it as failed. */
  onFailure?(action: SyncAction, key: string, err: unknown): void;
  /** Something the run cannot do, said once per kind (symlinks to S3). */
  onWarning?(message: string): void;
  /** After each entry listed and each task done. */
  onProgress?(stats: Readonly<SyncStats>): void;
}

/** Pulls from an async iterator one entry at a time, dropping filtered keys. */
class Cursor {
  private readonly it: AsyncIterator<SyncEntry>;
  constructor(
    ep: Endpoint,
    private readonly filter: Filter,
  ) {
    this.it = ep.list((k) => filter.excluded(k))[Symbol.asyncIterator]();
  }
  async next(): Promise<SyncEntry | undefined> {
    for (;;) {
      const r = await this.it.next();
      if (r.done) return undefined;
      if (!this.filter.excluded(r.value.key)) return r.value;
    }
  }
}

async function digest(body: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of body) h.update(c as Buffer);
  return h.digest('hex');
}

export async function syncTrees(src: Endpoint, dst: Endpoint, opts: SyncOptions = {}, events: SyncEvents = {}): Promise<SyncStats> {
  const stats: SyncStats = { scanned: 0, copied: 0, cloned: 0, bytes: 0, skipped: 0, deleted: 0, dirs: 0, failed: 0 };
  const filter = new Filter(opts.rules ?? []);
  const pool = new TaskPool(Math.max(1, opts.threads ?? 10));
  const dry = opts.dryRun === true;
  const progress = () => events.onProgress?.(stats);
  const signal = opts.signal;
  // The source streams of copies in flight, cut off on abort.
  const reading = new Set<Readable>();
  const onAbort = () => {
    for (const r of reading) r.destroy(signal?.reason instanceof Error ? signal.reason : new Error('sync interrupted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const warned = new Set<string>();
  const warnOnce = (m: string) => {
    if (warned.has(m)) return;
    warned.add(m);
    events.onWarning?.(m);
  };

  /** Runs one entry's work in the pool; a failure is counted and reported, never thrown. */
  const task = (action: SyncAction, key: string, fn: () => Promise<void>) =>
    pool.start(async () => {
      try {
        await fn();
      } catch (e) {
        // After an abort, the copies cut off are not failures to report.
        if (signal?.aborted) return;
        stats.failed++;
        events.onFailure?.(action, key, e);
      }
      progress();
    });

  const act = (action: SyncAction, key: string) => events.onAction?.(action, key);

  const copy = async (s: SyncEntry): Promise<void> => {
    if (dry) {
      act('copy', s.key);
    } else if (dst.cloneFrom && (await dst.cloneFrom(src, s.key))) {
      stats.cloned++;
      act('clone', s.key);
    } else {
      if (signal?.aborted) throw signal.reason;
      const r = await src.read(s.key);
      reading.add(r.body);
      const counted = Readable.from(
        (async function* () {
          for await (const c of r.body) {
            stats.bytes += (c as Buffer).length;
            progress();
            yield c as Buffer;
          }
        })(),
        { objectMode: false },
      );
      try {
        await dst.write(s.key, counted, { size: s.size, mtime: r.mtime ?? s.mtime, mode: r.mode ?? s.mode });
      } finally {
        reading.delete(r.body);
        r.body.destroy();
      }
      stats.copied++;
      act('copy', s.key);
      return;
    }
    stats.copied++;
    stats.bytes += s.size;
  };

  const link = async (s: SyncEntry): Promise<void> => {
    if (!dry) await dst.symlink(s.key, s.target ?? '', s.mtime);
    stats.copied++;
    act('link', s.key);
  };

  const exactMtime = async (ep: Endpoint, e: SyncEntry): Promise<number> => (e.mtimeExact ? e.mtime : ((await ep.stat(e.key))?.mtime ?? e.mtime));

  /** A file on both sides: copied unless found the same. */
  const compareFile = async (s: SyncEntry, d: SyncEntry): Promise<void> => {
    let sm: number | undefined;
    let dm: number | undefined;
    if (opts.update) {
      [sm, dm] = await Promise.all([exactMtime(src, s), exactMtime(dst, d)]);
      if (dm > sm) {
        stats.skipped++;
        return;
      }
    }
    if (s.size !== d.size) return copy(s);
    if (opts.checkAll) {
      const [a, b] = await Promise.all([src.read(s.key).then((r) => digest(r.body)), dst.read(d.key).then((r) => digest(r.body))]);
      if (a !== b) return copy(s);
      sm ??= await exactMtime(src, s);
      dm ??= await exactMtime(dst, d);
      // Same bytes, another time: only the time is set where the destination can (no copy).
      if (sm !== dm && dst.setMtime) {
        if (!dry) await dst.setMtime(d.key, sm);
        act('touch', d.key);
      }
      stats.skipped++;
      return;
    }
    sm ??= await exactMtime(src, s);
    dm ??= await exactMtime(dst, d);
    if (sm === dm) stats.skipped++;
    else await copy(s);
  };

  const remove = async (d: SyncEntry): Promise<void> => {
    // A directory with excluded (kept) files in it stays, and is not counted.
    if (!dry && !(await dst.delete(d))) return;
    stats.deleted++;
    act('delete', d.key);
  };

  /** The source lacks it: copied (directories created at once, so their files find them). */
  const missing = async (s: SyncEntry): Promise<void> => {
    if (s.type === 'dir') {
      if (!dst.hasDirs) return;
      try {
        if (!dry) await dst.mkdir(s.key, s.mode);
        stats.dirs++;
        act('mkdir', s.key);
      } catch (e) {
        stats.failed++;
        events.onFailure?.('mkdir', s.key, e);
      }
    } else if (s.type === 'symlink') {
      if (!dst.hasLinks) {
        stats.skipped++;
        return warnOnce(`symlinks are not copied to ${dst.label}, which has none`);
      }
      await task('link', s.key, () => link(s));
    } else await task('copy', s.key, () => copy(s));
  };

  // Destination directories to delete once everything under them is (they come before their contents).
  const doomedDirs: SyncEntry[] = [];
  const settleDirsBefore = async (key: string | undefined) => {
    while (doomedDirs.length && (key === undefined || !key.startsWith(doomedDirs[doomedDirs.length - 1]!.key))) {
      const d = doomedDirs.pop()!;
      await pool.idle();
      try {
        await remove(d);
      } catch (e) {
        stats.failed++;
        events.onFailure?.('delete', d.key, e);
      }
    }
  };

  const srcCursor = new Cursor(src, filter);
  const dstCursor = new Cursor(dst, filter);
  let s = await srcCursor.next();
  let d = await dstCursor.next();
  while ((s || d) && !signal?.aborted) {
    const order = !s ? 1 : !d ? -1 : compareKeys(s.key, d.key);
    await settleDirsBefore(order <= 0 ? s!.key : d!.key);
    if (order < 0) {
      stats.scanned++;
      await missing(s!);
      s = await srcCursor.next();
    } else if (order > 0) {
      if (opts.deleteDst) {
        const extra = d!;
        // A source without directories (S3) cannot say a directory is extra: one left empty goes, in a real run.
        if (extra.type === 'dir') {
          if (src.hasDirs || !dry) doomedDirs.push(extra);
        }
        else await task('delete', extra.key, () => remove(extra));
      }
      d = await dstCursor.next();
    } else {
      stats.scanned++;
      const [a, b] = [s!, d!];
      if (a.type === 'symlink' && !dst.hasLinks) {
        stats.skipped++;
        warnOnce(`symlinks are not copied to ${dst.label}, which has none`);
      } else if (a.type === 'dir') {
        // Both have it: nothing to do (its files are compared one by one).
      } else if (a.type !== b.type) {
        // A file where a symlink was, or the other way round: replaced.
        await task(a.type === 'symlink' ? 'link' : 'copy', a.key, async () => {
          if (!dry) await dst.delete(b);
          await (a.type === 'symlink' ? link(a) : copy(a));
        });
      } else if (a.type === 'symlink') {
        if (a.target === b.target) stats.skipped++;
        else await task('link', a.key, () => link(a));
      } else await task('check', a.key, () => compareFile(a, b));
      s = await srcCursor.next();
      d = await dstCursor.next();
    }
    progress();
  }
  if (!signal?.aborted) await settleDirsBefore(undefined);
  await pool.idle();
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) throw signal.reason;
  return stats;
}
