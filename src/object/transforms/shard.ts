// --shards N: spreads objects over N stores by a hash of the key, for services that throttle per bucket
// or per prefix. With '%d' in the storage URL the shards are N buckets/directories (s3://data-%d ->
// data-0 .. data-N-1); without it they are N prefixes `shard-I/` of the one store. Listing merges the
// shards back into one key order, so callers see one store.
import { crc32c } from './native.js';
import type { ListResult, ObjectInfo, ObjectStore, PutOptions } from '../interface.js';
import { DEFAULT_LIST_LIMIT, checkLimit, compareKeys, invalid, listAll } from '../util.js';

/** One store seen through a key prefix. */
export class PrefixStore implements ObjectStore {
  constructor(readonly inner: ObjectStore, private readonly prefix: string) {}

  get url(): string {
    return `${this.inner.url}#${this.prefix}`;
  }
  create(): Promise<void> {
    return this.inner.create();
  }
  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    return this.inner.put(this.prefix + key, data, opts);
  }

  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }
  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.inner.get(this.prefix + key, off, len);
  }
  async head(key: string): Promise<ObjectInfo> {
    return { ...(await this.inner.head(this.prefix + key)), key };
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(this.prefix + key);
  }
  async list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    const page = await this.inner.list(this.prefix + prefix, marker ? this.prefix + marker : this.prefix, limit);
    const objects = page.objects.map((o) => ({ ...o, key: o.key.slice(this.prefix.length) }));
    return page.isTruncated && objects.length ? { objects, isTruncated: true, nextMarker: objects[objects.length - 1].key } : { objects, isTruncated: false };
  }
  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function shardOf(key: string, n: number): number {
  return (crc32c(key) >>> 0) % n;
}

export class ShardStore implements ObjectStore {
  readonly url: string;

  constructor(readonly shards: ObjectStore[], url?: string) {
    if (shards.length < 1) throw invalid('a sharded store needs at least one shard');
    this.url = url ?? shards[0].url;
  }

  private pick(key: string): ObjectStore {
    return this.shards[shardOf(key, this.shards.length)];
  }

  async create(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.create()));
  }
  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    return this.pick(key).put(key, data, opts);
  }
  async sync(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.sync?.()));
  }
  get(key: string, off?: number, len?: number): Promise<Buffer> {
    return this.pick(key).get(key, off, len);
  }
  head(key: string): Promise<ObjectInfo> {
    return this.pick(key).head(key);
  }
  delete(key: string): Promise<void> {
    return this.pick(key).delete(key);
  }

  /**
   * A k-way merge: a key is returned only once every shard that may still hold a smaller one has been
   * read past it, so pages are exact (limit keys, in byte order) whatever the shards' page sizes.
   */
  async list(prefix: string, marker = '', limit = DEFAULT_LIST_LIMIT): Promise<ListResult> {
    checkLimit(limit);
    const state = this.shards.map(() => ({ buf: [] as ObjectInfo[], pos: 0, after: marker, done: false }));
    const objects: ObjectInfo[] = [];
    const refill = async () => {
      await Promise.all(
        state.map(async (st, i) => {
          if (st.pos < st.buf.length || st.done) return;
          const page = await this.shards[i].list(prefix, st.after, limit);
          st.buf = page.objects;
          st.pos = 0;
          st.done = !page.isTruncated || page.objects.length === 0;
          if (page.objects.length) st.after = page.objects[page.objects.length - 1].key;
        }),
      );
    };
    while (objects.length < limit) {
      await refill();
      let best = -1;
      state.forEach((st, i) => {
        if (st.pos < st.buf.length && (best < 0 || compareKeys(st.buf[st.pos].key, state[best].buf[state[best].pos].key) < 0)) best = i;
      });
      if (best < 0) break;
      objects.push(state[best].buf[state[best].pos++]);
    }
    if (objects.length === limit) await refill();
    const more = state.some((st) => st.pos < st.buf.length || !st.done);
    return more && objects.length ? { objects, isTruncated: true, nextMarker: objects[objects.length - 1].key } : { objects, isTruncated: false };
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
