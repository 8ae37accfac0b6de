// Deferred fsyncs of the file:// store. A put with deferSync (a file's blocks at its close) is written to a
// temp file and renamed into place, readable by every client at once, and its fsyncs (the file, then its
// directory) run here in the background, right away: off the close's path, and several at a time, one
// directory fsync for all the files of a batch in it. sync() waits for every put made before it, and
// reports an fsync that failed since the last sync() (as Linux reports a failed writeback to the next fsync).
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsyncs of files in flight at once (each holds one of libuv's pool threads while the disk works). */
const CONCURRENCY = 4;
const BATCH = 256;

function errCode(e: unknown): unknown {
  return (e as NodeJS.ErrnoException)?.code;
}

/** fsync of a file or directory; one that is gone (deleted since: nothing to keep) is fine. */
async function fsyncPath(path: string, dir: boolean): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    // Some file systems (a few FUSE ones) cannot fsync a directory: nothing more can be done there.
    if (!dir || (errCode(e) !== 'EINVAL' && errCode(e) !== 'ENOTSUP')) throw e;
  } finally {
    await fh.close();
  }
}

export class SyncQueue {
  /** Paths put and not fsynced yet, with the directories made for them (synced before the path's own). */
  private pending: Array<{ path: string; dirs: string[] }> = [];
  /** Puts added so far, and how many of them are durable (in order: batches complete one after another). */
  private added = 0;
  private done = 0;
  private running = false;
  private error?: unknown;
  private waiters: Array<{ upTo: number; wake: () => void }> = [];

  /** Queues the fsyncs of a path just renamed into place (`dirs`: directories made for it, outermost first). */
  add(path: string, dirs: string[] = []): void {
    this.pending.push({ path, dirs });
    this.added++;
    if (!this.running) void this.run();
  }

  /** Puts queued and not durable yet. */
  get backlog(): number {
    return this.added - this.done;
  }

  /** Resolves when every put queued before the call is durable; throws an fsync error seen since the last call. */
  async sync(): Promise<void> {
    const upTo = this.added;
    if (this.done < upTo) await new Promise<void>((wake) => this.waiters.push({ upTo, wake }));
    const e = this.error;
    this.error = undefined;
    if (e) throw e;
  }

  private async run(): Promise<void> {
    this.running = true;
    // Cleared in the same step as the last look at `pending`: a put added after it starts a new run.
    try {
      while (this.pending.length) await this.batch();
    } finally {
      this.running = false;
    }
  }

  /** fsyncs of the next batch of puts. */
  private async batch(): Promise<void> {
    const batch = this.pending.splice(0, BATCH);
    try {
      // Data first, then the names: each made directory's entry, then the directories holding the new names.
      let next = 0;
      const worker = async () => {
        while (next < batch.length) await fsyncPath(batch[next++]!.path, false);
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
      const dirs = new Set<string>();
      for (const b of batch) for (const d of b.dirs) dirs.add(d);
      for (const b of batch) dirs.add(dirname(b.path));
      for (const d of dirs) await fsyncPath(d, true);
    } catch (e) {
      this.error ??= e;
    }
    this.done += batch.length;
    this.waiters = this.waiters.filter((w) => (w.upTo <= this.done ? (w.wake(), false) : true));
  }
}
