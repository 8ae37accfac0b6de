// A mirror client's view of its source's object store: everything passes through except deletion. The
// source's blocks are the source's: only its own clients free them (they drain its delete queue), so a
// mirror — lagging behind, or simply not the owner of the prefix — can never remove a block someone reads.
import { FsError } from '../errors.js';
import type { ListResult, ObjectInfo, ObjectStore, PutOptions } from '../object/interface.js';

export class SourceStoreGuard implements ObjectStore {
  constructor(readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    return this.inner.put(key, data, opts);
  }

  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }

  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.inner.get(key, off, len);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  async delete(key: string): Promise<void> {
    throw new FsError('EPERM', { message: `a mirror never deletes in its source's object store (${key} is left to the source's clients)` });
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.inner.list(prefix, marker, limit);
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
