// Open read descriptors of the file store's objects, kept for the next ranged get of the same key. Objects are
// immutable blobs (see interface.ts), so a kept descriptor always reads the object its key names: a random
// 4 KiB block read becomes one pread instead of open + pread + close (three thread-pool round trips).
// This process's own put and delete of a key drop its descriptor; a descriptor of an object deleted since
// still reads the old (immutable) bytes, as a get that started before the delete would.
import { open, type FileHandle } from 'node:fs/promises';

interface Kept {
  fh: FileHandle;
  users: number;
  /** Evicted while in use: closed by the last user. */
  dropped: boolean;
  closed?: boolean;
}

export class ReadHandleCache {
  private readonly kept = new Map<string, Kept>();
  private readonly opening = new Map<string, Promise<Kept>>();

  constructor(private readonly max = 256) {}

  /** Runs `fn` with an open read descriptor of `path` (ENOENT and other open errors are thrown as they are). */
  async with<T>(path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let k = this.kept.get(path);
    if (k) {
      // Most recently used last, so eviction takes the oldest.
      this.kept.delete(path);
      this.kept.set(path, k);
    } else {
      let p = this.opening.get(path);
      if (!p) {
        p = open(path, 'r').then((fh): Kept => ({ fh, users: 0, dropped: false }));
        this.opening.set(path, p);
      }
      try {
        k = await p;
      } finally {
        if (this.opening.get(path) === p) {
          this.opening.delete(path);
          if (k) {
            this.kept.set(path, k);
            this.trim();
          }
        }
      }
      // Dropped while it was opening (a put or delete of the key): used once, then closed.
      if (this.kept.get(path) !== k) k.dropped = true;
    }
    // Evicted and closed before this waiter got to it: open again.
    if (k.closed) return this.with(path, fn);
    k.users++;
    try {
      return await fn(k.fh);
    } finally {
      if (--k.users === 0 && k.dropped) await this.close(k);
    }
  }

  /** Forgets the descriptor of `path` (its object is replaced or deleted by this process). */
  drop(path: string): void {
    this.opening.delete(path);
    const k = this.kept.get(path);
    if (k) this.evict(path, k);
  }

  async closeAll(): Promise<void> {
    for (const [path, k] of [...this.kept]) this.evict(path, k);
  }

  private trim(): void {
    for (const [path, k] of this.kept) {
      if (this.kept.size <= this.max) break;
      this.evict(path, k);
    }
  }

  private evict(path: string, k: Kept): void {
    if (this.kept.get(path) === k) this.kept.delete(path);
    if (k.dropped) return;
    k.dropped = true;
    if (k.users === 0) void this.close(k);
  }

  private async close(k: Kept): Promise<void> {
    if (k.closed) return;
    k.closed = true;
    await k.fh.close().catch(() => undefined);
  }
}
