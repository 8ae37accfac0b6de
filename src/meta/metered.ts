// A Meta proxy handing every metadata operation (by method name) to a timer: the metrics' (meteredMeta, below)
// and `ferry bench`'s probe (client/probe.ts). Scans (async generators) pass through untimed. Methods run on
// the real object, so its private state is intact.
import type { FerryMetrics } from '../object/metrics.js';
import type { Meta } from './interface.js';

/** Runs one operation `name`; returns what `run` returns (a promise, or a synchronous result). */
export type OpTimerFn = (name: string, run: () => unknown) => unknown;

export function timedMeta<M extends Meta>(meta: M, time: OpTimerFn): M {
  // By function, not by name: a method replaced on the object (tests spy on meta this way) is wrapped anew.
  const wrapped = new WeakMap<object, unknown>();
  return new Proxy(meta, {
    get: (target, prop) => {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor' || typeof prop === 'symbol') return value;
      const fn = value as (...args: unknown[]) => unknown;
      let w = wrapped.get(fn);
      if (!w) {
        const name = prop;
        w = name.startsWith('scan') || name === 'openState' || name === 'restoreOpenState' ? fn.bind(target) : (...args: unknown[]) => time(name, () => fn.apply(target, args));
        wrapped.set(fn, w);
      }
      return w;
    },
  });
}

/** Every metadata operation timed in this process's metrics. */
export function meteredMeta<M extends Meta>(meta: M, m: FerryMetrics): M {
  return timedMeta(meta, (name, run) => m.meta.time(name, run));
}
