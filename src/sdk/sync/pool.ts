// At most N tasks at once; the producer waits for a free slot, so a listing of millions of keys never queues
// more than N tasks in memory.
export class TaskPool {
  private active = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** Resolves once fn has started; fn must not reject (tasks report their own failures). */
  async start(fn: () => Promise<void>): Promise<void> {
    while (this.active >= this.max) await new Promise<void>((r) => this.slotWaiters.push(r));
    this.active++;
    void fn().finally(() => {
      this.active--;
      this.slotWaiters.shift()?.();
      if (this.active === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const r of w) r();
      }
    });
  }

  /** Resolves when no task runs. */
  async idle(): Promise<void> {
    if (this.active === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }
}
