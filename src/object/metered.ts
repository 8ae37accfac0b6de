// The metrics' timer over TimedStore: requests that reach the store (time, errors, bytes) in this process's
// metrics (object/metrics.ts). The client assembly puts it where the QoS limits go: below the caches, so only
// what really crosses to the object store is counted.
import type { ObjectStore } from './interface.js';
import type { FerryMetrics } from './metrics.js';
import { TimedStore } from './timed.js';

export class MeteredStore extends TimedStore {
  constructor(inner: ObjectStore, m: FerryMetrics) {
    // Label children looked up once per op: an increment by a labels object hashes them on every call.
    const bytesOf = new Map<string, ReturnType<FerryMetrics['objectBytes']['labels']>>();
    super(inner, (op, run, bytes) =>
      m.object.time(op, async () => {
        const r = await run();
        if (bytes) {
          let c = bytesOf.get(op);
          if (!c) bytesOf.set(op, (c = m.objectBytes.labels(op)));
          c.inc(bytes(r));
        }
        return r;
      }),
    );
  }
}
