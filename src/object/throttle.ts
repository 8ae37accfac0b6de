// Rate limits (QoS): a token bucket whose waiters sleep on timers in FIFO order (no busy wait), and an
// ObjectStore decorator charging PUT bytes to an upload bucket and GET bytes to a download bucket.
// A limited client slows down, never fails: take() only ever waits.
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part, PutOptions } from './interface.js';

/** Share of a second of tokens a bucket holds when idle: small, so a limit holds over short runs too. */
const BURST_SECONDS = 0.1;
/** Longest single sleep: a waiter re-reads the rate at least this often, so a changed limit applies soon. */
const MAX_SLEEP_MS = 500;

export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly queue: Array<{ n: number; wake: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  /** `rate()` is read at every refill (units per second; 0 or less: unlimited), so it may change at any time. */
  constructor(private readonly rate: () => number) {
    this.tokens = Math.max(0, rate()) * BURST_SECONDS;
  }

  /** Whether a take() may have to wait: a limit is set, or others are waiting. */
  get limited(): boolean {
    return this.queue.length > 0 || this.rate() > 0;
  }

  /** Waits until `n` units may pass; waiters pass in the order they asked. */
  take(n: number): Promise<void> {
    if (n <= 0) return Promise.resolve();
    if (!this.queue.length) {
      this.refill();
      if (this.rate() <= 0) return Promise.resolve();
      if (this.tokens >= n) {
        this.tokens -= n;
        return Promise.resolve();
      }
    }
    return new Promise<void>((wake) => {
      this.queue.push({ n, wake });
      this.schedule();
    });
  }

  /** Units waiting to pass (for tests and status). */
  get waiting(): number {
    return this.queue.reduce((s, w) => s + w.n, 0);
  }

  private refill(): void {
    const now = Date.now();
    const rate = this.rate();
    // The head of the queue may save up to its whole request (a block larger than the burst still passes).
    const cap = Math.max(rate * BURST_SECONDS, this.queue[0]?.n ?? 0);
    this.tokens = rate > 0 ? Math.min(cap, this.tokens + ((now - this.last) / 1000) * rate) : 0;
    this.last = now;
  }

  private schedule(): void {
    if (this.timer) return;
    this.refill();
    while (this.queue.length) {
      const head = this.queue[0]!;
      const rate = this.rate();
      if (rate > 0 && this.tokens < head.n) {
        const ms = Math.min(MAX_SLEEP_MS, Math.ceil(((head.n - this.tokens) / rate) * 1000));
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.schedule();
        }, Math.max(1, ms));
        return;
      }
      if (rate > 0) this.tokens -= head.n;
      this.queue.shift();
      head.wake();
    }
  }
}

/** Charges the bytes a store moves to its buckets: PUT and multipart parts before sending, GET after receiving. */
export class ThrottledStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly upload: TokenBucket,
    private readonly download: TokenBucket,
  ) {
    if (inner.createMultipartUpload) this.createMultipartUpload = (key) => inner.createMultipartUpload!(key);
    if (inner.uploadPart) {
      this.uploadPart = async (key, id, num, data) => {
        await this.upload.take(data.length);
        return inner.uploadPart!(key, id, num, data);
      };
    }
    if (inner.completeUpload) this.completeUpload = (key, id, parts) => inner.completeUpload!(key, id, parts);
    if (inner.abortUpload) this.abortUpload = (key, id) => inner.abortUpload!(key, id);
  }

  get url(): string {
    return this.inner.url;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    await this.upload.take(data.length);
    return this.inner.put(key, data, opts);
  }

  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }

  async get(key: string, off?: number, len?: number): Promise<Buffer> {
    const data = await this.inner.get(key, off, len);
    // Charged after the fact (the size is known only now): the next reads wait for it.
    await this.download.take(data.length);
    return data;
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.inner.list(prefix, marker, limit);
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
