// ClientProbe: counts and times what a client asks of its metadata engine (every Meta call) and of its object
// store (every request that really leaves for the store: below the block caches), for `ferry bench` to show
// the latencies behind its figures. A client opened without a probe pays nothing for it.
import type { Meta } from '../meta/interface.js';
import { timedMeta } from '../meta/metered.js';
import { TimedStore, type ObjectStore } from '../object/index.js';

export interface ProbeStat {
  /** Calls finished (failed ones included). */
  count: number;
  /** Their summed duration in milliseconds. */
  ms: number;
  /** Bytes moved (object requests only). */
  bytes: number;
}

export interface ProbeSnapshot {
  /** By Meta method name. */
  meta: Record<string, ProbeStat>;
  /** By request: put, get, head, delete, list, multipart. */
  objects: Record<string, ProbeStat>;
}

export class ClientProbe {
  private meta = new Map<string, ProbeStat>();
  private objects = new Map<string, ProbeStat>();

  private static note(m: Map<string, ProbeStat>, name: string, ms: number, bytes: number): void {
    let s = m.get(name);
    if (!s) m.set(name, (s = { count: 0, ms: 0, bytes: 0 }));
    s.count++;
    s.ms += ms;
    s.bytes += bytes;
  }

  /** Times an async call, recording it whether it resolves or rejects. */
  private async time<T>(m: Map<string, ProbeStat>, name: string, f: () => Promise<T>, bytes: (r: T) => number = () => 0): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await f();
      ClientProbe.note(m, name, performance.now() - t0, bytes(r));
      return r;
    } catch (e) {
      ClientProbe.note(m, name, performance.now() - t0, 0);
      throw e;
    }
  }

  /** What was recorded since the last reset (copies). */
  snapshot(): ProbeSnapshot {
    const copy = (m: Map<string, ProbeStat>) => Object.fromEntries([...m].map(([k, v]) => [k, { ...v }]));
    return { meta: copy(this.meta), objects: copy(this.objects) };
  }

  reset(): void {
    this.meta.clear();
    this.objects.clear();
  }

  /**
   * `meta` with each promise-returning method timed (meta/metered.ts's proxy). Scans and synchronous results
   * pass through untimed.
   */
  wrapMeta(meta: Meta): Meta {
    return timedMeta(meta, (name, run) => {
      const t0 = performance.now();
      const r = run();
      if (!(r instanceof Promise)) return r;
      const done = () => ClientProbe.note(this.meta, name, performance.now() - t0, 0);
      return r.then(
        (v) => (done(), v),
        (e) => {
          done();
          throw e;
        },
      );
    });
  }

  /** `store` with each request timed and its bytes counted (object/timed.ts's decorator). */
  wrapStore(store: ObjectStore): ObjectStore {
    return new TimedStore(store, (op, run, bytes) => (op === 'create' ? run() : this.time(this.objects, PROBE_NAMES[op] ?? op, run, bytes)));
  }
}

/** The probe's table shows multipart control requests together and parts as puts. */
const PROBE_NAMES: Record<string, string> = { createMultipartUpload: 'multipart', completeUpload: 'multipart', abortUpload: 'multipart', uploadPart: 'put' };
