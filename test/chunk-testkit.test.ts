// Shared fixtures of the chunk-layer tests (no tests of its own; named *.test.ts to stay in the chunk test files):
// a delegating ObjectStore wrapper that counts calls, delays them and can be told to fail puts (the only
// stand-in used: every other component is real), and a seeded PRNG.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunk/store.js';
import { FsError } from '../src/errors.js';
import { newFormat } from '../src/meta/format.js';
import { openMeta, rootContext } from '../src/meta/index.js';
import { openObjectStore } from '../src/object/index.js';
import type { ListResult, ObjectInfo, ObjectStore } from '../src/object/interface.js';
import { sleep } from './helpers/wait.js';

export class InstrumentedStore implements ObjectStore {
  gets = 0;
  getBytes = 0;
  puts = 0;
  deletes = 0;
  inFlight = 0;
  maxInFlight = 0;
  delayMs = 0;
  /** Makes put fail for keys matching this (or every key when true). */
  failPut: boolean | ((key: string) => boolean) = false;
  /** Makes delete fail. */
  failDelete = false;

  constructor(readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  private async track<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await sleep(this.delayMs);
      return await fn();
    } finally {
      this.inFlight--;
    }
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  put(key: string, data: Buffer): Promise<void> {
    return this.track(async () => {
      const fail = typeof this.failPut === 'function' ? this.failPut(key) : this.failPut;
      if (fail) throw new FsError('EIO', { message: `injected put failure for ${key}` });
      this.puts++;
      await this.inner.put(key, data);
    });
  }

  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.track(async () => {
      this.gets++;
      const b = await this.inner.get(key, off, len);
      this.getBytes += b.length;
      return b;
    });
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  async delete(key: string): Promise<void> {
    if (this.failDelete) throw new FsError('EIO', { message: `injected delete failure for ${key}` });
    this.deletes++;
    await this.inner.delete(key);
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

  async keys(prefix = ''): Promise<string[]> {
    const out: string[] = [];
    for await (const o of this.inner.listAll(prefix)) out.push(o.key);
    return out;
  }
}

/** A fresh volume for data-path tests: real SQLite metadata in a temp dir, a real mem:// store, one file. */
export async function openVolume(blockSize: number, storeOpts: { uploadConcurrency?: number; downloadConcurrency?: number; missingBlockWaitMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-chunk-'));
  const meta = await openMeta(`sqlite3://${join(dir, 'meta.db')}`);
  await meta.init(newFormat({ name: 't', storage: 'mem://x', blockSize, trashDays: 0 }));
  const ctx = rootContext();
  const { inode } = await meta.create(ctx, 1, 'f', 0o644, 0);
  const objects = new InstrumentedStore(await openObjectStore(`mem://${randomUUID()}`));
  await objects.create();
  const store = new ChunkStore(objects, { volume: 't', blockSize, ...storeOpts });
  return {
    meta,
    ctx,
    ino: inode,
    objects,
    store,
    async newFile(name: string): Promise<number> {
      return (await meta.create(ctx, 1, name, 0o644, 0)).inode;
    },
    async length(ino = inode): Promise<number> {
      return (await meta.getattr(ctx, ino)).length;
    },
    async close(): Promise<void> {
      await meta.close();
      await objects.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

