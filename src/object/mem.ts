// mem://NAME: objects in a process-wide map per NAME, so every open of one name sees the same
// objects (as two clients of one bucket would). For tests; nothing is ever persisted.
import { randomBytes } from 'node:crypto';
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part } from './interface.js';
import { registerObjectStore } from './registry.js';
import {
  DEFAULT_LIST_LIMIT,
  MAX_PART_COUNT,
  MIN_PART_SIZE,
  checkLimit,
  checkPartNum,
  checkParts,
  compareKeys,
  etagOf,
  invalid,
  listAll,
  noSuchObject,
  noSuchUpload,
  span,
} from './util.js';

interface Stored {
  data: Buffer;
  mtime: number;
}

interface Upload {
  key: string;
  parts: Map<number, { data: Buffer; etag: string }>;
}

interface Space {
  objects: Map<string, Stored>;
  uploads: Map<string, Upload>;
  /** Keys in byte order, rebuilt lazily after a key is added or removed. */
  sorted?: string[];
}

const spaces = new Map<string, Space>();

/** Index of the first key for which `pred` holds; `pred` must be false then true along `keys`. */
function firstIndex(keys: string[], pred: (key: string) => boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(keys[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class MemStore implements ObjectStore {
  readonly url: string;
  private readonly space: Space;

  constructor(name: string) {
    this.url = `mem://${name}`;
    let space = spaces.get(name);
    if (!space) {
      space = { objects: new Map(), uploads: new Map() };
      spaces.set(name, space);
    }
    this.space = space;
  }

  async create(): Promise<void> {}

  // Buffers are copied in and out: callers may reuse theirs, and must not alter stored objects.
  async put(key: string, data: Buffer): Promise<void> {
    this.store(key, Buffer.from(data));
  }

  private store(key: string, data: Buffer): void {
    if (!this.space.objects.has(key)) this.space.sorted = undefined;
    this.space.objects.set(key, { data, mtime: Date.now() });
  }

  async get(key: string, off = 0, len = -1): Promise<Buffer> {
    const data = this.lookup(key).data;
    return Buffer.from(data.subarray(...span(data.length, off, len)));
  }

  async head(key: string): Promise<ObjectInfo> {
    const { data, mtime } = this.lookup(key);
    return { key, size: data.length, mtime };
  }

  private lookup(key: string): Stored {
    const obj = this.space.objects.get(key);
    if (!obj) throw noSuchObject(key);
    return obj;
  }

  async delete(key: string): Promise<void> {
    if (this.space.objects.delete(key)) this.space.sorted = undefined;
  }

  async list(prefix: string, marker = '', limit = DEFAULT_LIST_LIMIT): Promise<ListResult> {
    checkLimit(limit);
    const keys = (this.space.sorted ??= [...this.space.objects.keys()].sort(compareKeys));
    let i = Math.max(
      firstIndex(keys, (k) => compareKeys(k, prefix) >= 0),
      firstIndex(keys, (k) => compareKeys(k, marker) > 0),
    );
    const objects: ObjectInfo[] = [];
    for (; i < keys.length && keys[i].startsWith(prefix); i++) {
      if (objects.length === limit) return { objects, isTruncated: true, nextMarker: objects[limit - 1].key };
      const { data, mtime } = this.space.objects.get(keys[i])!;
      objects.push({ key: keys[i], size: data.length, mtime });
    }
    return { objects, isTruncated: false };
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }

  async createMultipartUpload(key: string): Promise<MultipartUpload> {
    const uploadId = randomBytes(16).toString('hex');
    this.space.uploads.set(uploadId, { key, parts: new Map() });
    return { uploadId, minPartSize: MIN_PART_SIZE, maxCount: MAX_PART_COUNT };
  }

  private upload(key: string, uploadId: string): Upload {
    const upload = this.space.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw noSuchUpload(uploadId);
    return upload;
  }

  async uploadPart(key: string, uploadId: string, num: number, data: Buffer): Promise<Part> {
    checkPartNum(num);
    const etag = etagOf(data);
    this.upload(key, uploadId).parts.set(num, { data: Buffer.from(data), etag });
    return { num, size: data.length, etag };
  }

  async completeUpload(key: string, uploadId: string, parts: Part[]): Promise<void> {
    checkParts(parts);
    const uploaded = this.upload(key, uploadId).parts;
    const datas = parts.map((p) => {
      const part = uploaded.get(p.num);
      if (!part || part.etag !== p.etag) throw invalid(`part ${p.num} with etag ${p.etag} was not uploaded`);
      if (part.data.length !== p.size) throw invalid(`part ${p.num} does not have ${p.size} bytes`);
      return part.data;
    });
    this.store(key, Buffer.concat(datas));
    this.space.uploads.delete(uploadId);
  }

  /** Like delete, aborting an unknown upload is not an error. */
  async abortUpload(_key: string, uploadId: string): Promise<void> {
    this.space.uploads.delete(uploadId);
  }

  async close(): Promise<void> {}
}

registerObjectStore('mem', async (url) => new MemStore(`${url.host}${url.pathname}`.replace(/^\/+|\/+$/g, '')));
