// Counter increments of one namespace transaction, sent together at its end: a create or an unlink changes
// the volume's inode and space counters and the version, three upserts that become one statement on an
// engine with Tx.incrCounters (SQL). An increment's value is a token resolved then: BaseMeta reads values
// only after the commit. A read or write of counters in the same transaction sends the pending ones first,
// so it sees them. Engines without incrCounters (Redis, etcd: blind increments already) are left as they are.
import { Assigned } from './assigned.js';
import type { Tx } from './tx.js';

export class CounterBatch {
  private pending: Array<{ name: string; delta: number; token: Assigned }> = [];
  /** The transaction with incrCounter batched (the same `inner` when the engine cannot batch). */
  readonly tx: Tx;

  constructor(private readonly inner: Tx) {
    if (!inner.incrCounters) {
      this.tx = inner;
      return;
    }
    this.tx = new Proxy(inner, {
      get: (target, prop) => {
        if (prop === 'incrCounter') return async (name: string, delta: number) => this.add(name, delta);
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'getCounter' || prop === 'setCounter' || prop === 'incrCounters') {
          return async (...args: unknown[]) => {
            await this.flush();
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  }

  /** Adds delta to the counter at the next flush; the token holds the value after this increment. */
  add(name: string, delta: number): Assigned {
    if (!this.inner.incrCounters) throw new Error('CounterBatch.add on an engine without incrCounters');
    const token = new Assigned();
    this.pending.push({ name, delta, token });
    return token;
  }

  /** Sends the pending increments in one statement and resolves their tokens. */
  async flush(): Promise<void> {
    const pending = this.pending;
    if (!pending.length) return;
    this.pending = [];
    // One row per counter: increments of the same one are summed, each token gets the value it had then.
    const sums = new Map<string, number>();
    for (const p of pending) sums.set(p.name, (sums.get(p.name) ?? 0) + p.delta);
    const names = [...sums.keys()];
    const values = await this.inner.incrCounters!(names.map((n) => [n, sums.get(n)!]));
    const after = new Map(names.map((n, i) => [n, values[i]!.value]));
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      p.token.resolve(after.get(p.name)!);
      after.set(p.name, after.get(p.name)! - p.delta);
    }
  }
}
