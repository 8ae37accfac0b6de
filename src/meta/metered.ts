// A Meta proxy timing every metadata operation (by method name) in this process's metrics (object/metrics.ts),
// as client/qos.ts wraps Meta for its limits. Scans (async generators) and other non-promise results pass
// through untimed. Methods run on the real object, so its private state is intact.
import type { FerryMetrics } from '../object/metrics.js';
import type { Meta } from './interface.js';

export function meteredMeta<M extends Meta>(meta: M, m: FerryMetrics): M {
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
        w = name.startsWith('scan') ? fn.bind(target) : (...args: unknown[]) => m.meta.time(name, () => fn.apply(target, args));
        wrapped.set(fn, w);
      }
      return w;
    },
  });
}
