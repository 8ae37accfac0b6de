// ClientProbe: counts and times what a client asks of its metadata engine (every Meta call) and of its object
// store (every request that really leaves for the store: below the block caches), for `ferry bench` to show
// the latencies behind its figures. A client opened without a probe pays nothing for it.
import type { Meta } from '../meta/interface.js';
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part } from '../object/index.js';

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
   * `meta` with each promise-returning method timed. Scans (async generators) and synchronous methods pass
   * through untimed. Methods run on the real object, so its private state is intact.
   */
  wrapMeta(meta: Meta): Meta {
    const wrapped = new WeakMap<object, unknown>();
    return new Proxy(meta, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function' || prop === 'constructor') return value;
        const fn = value as (...args: unknown[]) => unknown;
        let w = wrapped.get(fn);
        if (w) return w;
        const name = String(prop);
        w = (...args: unknown[]) => {
          const t0 = performance.now();
          const r = fn.apply(target, args);
          if (!(r instanceof Promise)) return r;
          return r.then(
            (v) => (ClientProbe.note(this.meta, name, performance.now() - t0, 0), v),
            (e) => {
              ClientProbe.note(this.meta, name, performance.now() - t0, 0);
              throw e;
            },
          );
        };
        wrapped.set(fn, w);
        return w;
      },
    });
  }

  /** `store` with each request timed and its bytes counted. */
  wrapStore(store: ObjectStore): ObjectStore {
    return new ProbedStore(store, (name, f, bytes) => this.time(this.objects, name, f, bytes));
  }
}

type Timer = <T>(name: string, f: () => Promise<T>, bytes?: (r: T) => number) => Promise<T>;

class ProbedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly time: Timer,
  ) {
    if (inner.createMultipartUpload) this.createMultipartUpload = (key) => time('multipart', () => inner.createMultipartUpload!(key));
    if (inner.uploadPart) this.uploadPart = (key, id, num, data) => time('put', () => inner.uploadPart!(key, id, num, data), () => data.length);
    if (inner.completeUpload) this.completeUpload = (key, id, parts) => time('multipart', () => inner.completeUpload!(key, id, parts));
    if (inner.abortUpload) this.abortUpload = (key, id) => time('multipart', () => inner.abortUpload!(key, id));
  }

  get url(): string {
    return this.inner.url;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  put(key: string, data: Buffer): Promise<void> {
    return this.time('put', () => this.inner.put(key, data), () => data.length);
  }

  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.time('get', () => this.inner.get(key, off, len), (b) => b.length);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.time('head', () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.time('delete', () => this.inner.delete(key));
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.time('list', () => this.inner.list(prefix, marker, limit));
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(prefix);
  }

  createMultipartUpload?(key: string): Promise<MultipartUpload>;
  uploadPart?(key: string, uploadId: string, num: number, data: Buffer): Promise<Part>;
  completeUpload?(key: string, uploadId: string, parts: Part[]): Promise<void>;
  abortUpload?(key: string, uploadId: string): Promise<void>;

  close(): Promise<void> {
    return this.inner.close();
  }
}
