// An ObjectStore decorator handing every request to a timer, by request name, with a byte count for the ones
// that move data. The metrics (object/metered.ts) and `ferry bench`'s probe (client/probe.ts) are two timers
// over this one decorator. Listing walks (listAll) pass through: a walk is not one request.
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part, PutOptions } from './interface.js';

/** Runs one request of `op`, recording it; `bytes` (when given) says how many bytes its result moved. */
export type RequestTimer = <T>(op: string, run: () => Promise<T>, bytes?: (r: T) => number) => Promise<T>;

export class TimedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly time: RequestTimer,
  ) {
    if (inner.createMultipartUpload) this.createMultipartUpload = (key) => time('createMultipartUpload', () => inner.createMultipartUpload!(key));
    if (inner.uploadPart) this.uploadPart = (key, id, num, data) => time('uploadPart', () => inner.uploadPart!(key, id, num, data), () => data.length);
    if (inner.completeUpload) this.completeUpload = (key, id, parts) => time('completeUpload', () => inner.completeUpload!(key, id, parts));
    if (inner.abortUpload) this.abortUpload = (key, id) => time('abortUpload', () => inner.abortUpload!(key, id));
  }

  get url(): string {
    return this.inner.url;
  }

  create(): Promise<void> {
    return this.time('create', () => this.inner.create());
  }

  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    return this.time('put', () => this.inner.put(key, data, opts), () => data.length);
  }

  sync(): Promise<void> {
    return this.time('sync', () => this.inner.sync?.() ?? Promise.resolve());
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
