// An ObjectStore decorator counting the requests that reach the store (time, errors, bytes) in this process's
// metrics (object/metrics.ts). The client assembly puts it where the QoS limits go: below the caches, so only
// what really crosses to the object store is counted.
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part } from './interface.js';
import type { FerryMetrics } from './metrics.js';

export class MeteredStore implements ObjectStore {
  // Label children looked up once: an increment by a labels object hashes them on every call.
  private readonly putBytes;
  private readonly getBytes;

  constructor(
    private readonly inner: ObjectStore,
    private readonly m: FerryMetrics,
  ) {
    this.putBytes = m.objectBytes.labels('put');
    this.getBytes = m.objectBytes.labels('get');
    if (inner.createMultipartUpload) this.createMultipartUpload = (key) => m.object.time('createMultipartUpload', () => inner.createMultipartUpload!(key));
    if (inner.uploadPart) {
      this.uploadPart = (key, id, num, data) => {
        m.objectBytes.inc({ op: 'uploadPart' }, data.length);
        return m.object.time('uploadPart', () => inner.uploadPart!(key, id, num, data));
      };
    }
    if (inner.completeUpload) this.completeUpload = (key, id, parts) => m.object.time('completeUpload', () => inner.completeUpload!(key, id, parts));
    if (inner.abortUpload) this.abortUpload = (key, id) => m.object.time('abortUpload', () => inner.abortUpload!(key, id));
  }

  get url(): string {
    return this.inner.url;
  }

  create(): Promise<void> {
    return this.m.object.time('create', () => this.inner.create());
  }

  put(key: string, data: Buffer): Promise<void> {
    return this.m.object.time('put', async () => {
      await this.inner.put(key, data);
      this.putBytes.inc(data.length);
    });
  }

  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.m.object.time('get', async () => {
      const data = await this.inner.get(key, off, len);
      this.getBytes.inc(data.length);
      return data;
    });
  }

  head(key: string): Promise<ObjectInfo> {
    return this.m.object.time('head', () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.m.object.time('delete', () => this.inner.delete(key));
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.m.object.time('list', () => this.inner.list(prefix, marker, limit));
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    // Pages the inner store fetches itself are not timed one by one (a walk is not one request).
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
