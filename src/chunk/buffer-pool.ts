// The write-buffer budget shared by every open file of one client. Writers acquire bytes before buffering
// and release them once the data is uploaded; a writer waits (backpressure) while the pool is over its limit.
// While someone waits, the pool asks every registered holder to let go of what it can (upload partial blocks).

export const DEFAULT_BUFFER_LIMIT = 256 << 20;

export class BufferPool {
  private usedBytes = 0;
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];
  private readonly reclaimers = new Set<() => void>();

  constructor(readonly limit: number = DEFAULT_BUFFER_LIMIT) {
    if (!(limit > 0)) throw new RangeError(`buffer limit must be > 0, got ${limit}`);
  }

  get used(): number {
    return this.usedBytes;
  }

  /** True while writers would have to wait. */
  get full(): boolean {
    return this.usedBytes >= this.limit;
  }

  /**
   * Takes `n` bytes of budget, waiting in FIFO order while the pool cannot hold them.
   * A request is always granted when the pool is empty, so one request larger than the limit cannot deadlock.
   */
  async acquire(n: number): Promise<void> {
    if (n <= 0) return;
    if (this.waiters.length === 0 && this.fits(n)) {
      this.usedBytes += n;
      return;
    }
    const granted = new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
    this.askForMemory();
    await granted;
  }

  /** Takes `n` bytes only if they fit now and nobody waits (read-ahead: never worth waiting for). */
  tryAcquire(n: number): boolean {
    if (n <= 0) return true;
    if (this.waiters.length > 0 || this.usedBytes + n > this.limit) return false;
    this.usedBytes += n;
    return true;
  }

  release(n: number): void {
    if (n <= 0) return;
    this.usedBytes -= n;
    if (this.usedBytes < 0) this.usedBytes = 0;
    this.grant();
  }

  /** `reclaim` is called (synchronously, may start async work) when a writer waits for budget. */
  addReclaimer(reclaim: () => void): void {
    this.reclaimers.add(reclaim);
  }

  removeReclaimer(reclaim: () => void): void {
    this.reclaimers.delete(reclaim);
  }

  private fits(n: number): boolean {
    return this.usedBytes === 0 || this.usedBytes + n <= this.limit;
  }

  private grant(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.n)) {
      const w = this.waiters.shift()!;
      this.usedBytes += w.n;
      w.resolve();
    }
  }

  private askForMemory(): void {
    for (const reclaim of [...this.reclaimers]) {
      try {
        reclaim();
      } catch {
        // a holder failing to free memory must not break the waiter
      }
    }
  }
}
