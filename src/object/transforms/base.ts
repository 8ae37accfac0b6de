// Shared shape of a block transform: an ObjectStore over another one that changes the bytes of each
// object on the way in and out. Keys, listing and deletion pass through. Multipart is not offered: a
// transform works on whole objects (FerryFS blocks are at most 16 MiB), so callers put whole blocks.
import { FsError } from '../../errors.js';
import type { ListResult, ObjectInfo, ObjectStore, PutOptions } from '../interface.js';
import { listAll, span } from '../util.js';

export abstract class TransformStore implements ObjectStore {
  /** A ranged get reads the whole block (see get). */
  get wholeObjectGets(): boolean {
    return true;
  }

  constructor(readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  /** Stored bytes for a block. */
  protected abstract encode(key: string, data: Buffer): Promise<Buffer>;
  /** The block back from its stored bytes; throws EIO naming the key when they are not valid. */
  protected abstract decode(key: string, stored: Buffer): Promise<Buffer>;
  /** The logical size of an object from its stored size (for list), when it can be known without reading. */
  protected abstract logicalSize(storedSize: number): number;

  create(): Promise<void> {
    return this.inner.create();
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    await this.inner.put(key, await this.encode(key, data), opts);
  }

  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }

  /** A ranged get reads the whole block: it can be checked/decrypted/decompressed only as a whole. */
  async get(key: string, off = 0, len = -1): Promise<Buffer> {
    span(Number.MAX_SAFE_INTEGER, off, len); // the same EINVAL as a plain store, before any I/O
    const data = await this.decode(key, await this.inner.get(key));
    if (off === 0 && len < 0) return data;
    return data.subarray(...span(data.length, off, len));
  }

  async head(key: string): Promise<ObjectInfo> {
    const info = await this.inner.head(key);
    return { ...info, size: this.logicalSize(info.size) };
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  async list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    const page = await this.inner.list(prefix, marker, limit);
    return { ...page, objects: page.objects.map((o) => ({ ...o, size: this.logicalSize(o.size) })) };
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A block that cannot be turned back into the bytes that were written: never return wrong data. */
export function corrupt(key: string, why: string): FsError {
  return new FsError('EIO', { message: `block ${key} is corrupted: ${why}`, path: key, syscall: 'get' });
}
