// A store read near-first: reads try `near` and fall back to `home` when near has no such object; every
// write, delete and listing goes to `home`, the authoritative store. A mirror with its own object store
// reads its asynchronously filled copy this way (blocks not yet copied come from the source's store),
// while new blocks and deletions stay with the source. Blocks are immutable, so any copy is valid.
import { FsError } from '../errors.js';
import type { ListResult, ObjectInfo, ObjectStore, PutOptions } from './interface.js';

const missing = (e: unknown) => e instanceof FsError && e.code === 'ENOENT';

export class FallbackStore implements ObjectStore {
  /** Reads answered by `home` because `near` lacked the object (tests and status read it). */
  fallbacks = 0;

  constructor(readonly near: ObjectStore, readonly home: ObjectStore) {}

  get url(): string {
    return this.home.url;
  }

  async create(): Promise<void> {
    await this.home.create();
  }

  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    return this.home.put(key, data, opts);
  }

  sync(): Promise<void> {
    return this.home.sync?.() ?? Promise.resolve();
  }

  async get(key: string, off?: number, len?: number): Promise<Buffer> {
    try {
      return await this.near.get(key, off, len);
    } catch (e) {
      if (!missing(e)) throw e;
      this.fallbacks++;
      return this.home.get(key, off, len);
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    try {
      return await this.near.head(key);
    } catch (e) {
      if (!missing(e)) throw e;
      return this.home.head(key);
    }
  }

  delete(key: string): Promise<void> {
    return this.home.delete(key);
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.home.list(prefix, marker, limit);
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.home.listAll(prefix);
  }

  async close(): Promise<void> {
    await Promise.all([this.near.close(), this.home.close()]);
  }
}
