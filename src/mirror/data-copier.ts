// The data copier of a mirror with its own object store (`ferry mirror run --data`): copies the source's
// blocks into the mirror's store, asynchronously and apart from metadata replication.
//
// It follows the MIRROR's changelog (every record the replicator applied is appended there too), with its
// own cursor kept in the mirror's format record: slices a record adds are copied, slices it frees ('free'
// mutations, logged by the source when a slice's last reference goes) are deleted. The first pass instead
// takes a consistent snapshot of the mirror's namespace and makes the store hold exactly its blocks (copies
// the missing ones, deletes the rest), then the cursor starts at the snapshot's version. Objects are copied
// as stored (compressed/encrypted bytes, no key needed), and blocks are immutable, so copying twice is
// harmless: a restart resumes at the cursor and skips what is already there.
import { hostname } from 'node:os';
import { FsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import type { ChangeRecord } from '../meta/types.js';
import type { ObjectStore } from '../object/interface.js';
import { dataCopyOf, mirrorOf, type DataCopyState } from './format.js';

/** The blocks of a slice (supplied by the caller: block keys belong to the chunk layer, above this one). */
export type SliceBlocks = (id: number, size: number) => Array<{ key: string; length: number }>;

export interface DataCopierOptions {
  /** Blocks copied at once (default 8). */
  threads?: number;
  /** Records read from the mirror's changelog at a time (default 500). */
  batch?: number;
  /** Longest pause between polls when there is nothing to copy (ms, default 200). */
  maxIdleMs?: number;
  /** Pause after an error before retrying (ms, default 1000). */
  retryMs?: number;
  log?: (msg: string) => void;
}

/** A session whose heartbeat is fresher than this is a running copier: a second one is refused. */
const COPIER_ALIVE_MS = 30_000;
const HEARTBEAT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notFound = (e: unknown) => e instanceof FsError && e.code === 'ENOENT';

/** A session of a process on this host that no longer exists (a copier killed moments ago). */
function deadHere(s: { hostname: string; pid: number }): boolean {
  if (s.hostname !== hostname()) return false;
  try {
    process.kill(s.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class DataCopier {
  state!: DataCopyState;
  private stopped = false;
  private loop?: Promise<void>;
  private lastPersist = 0;
  /** Slices known to be in the mirror's store, so records that list a chunk's old slices again cost nothing. */
  private known = new Set<number>();
  private readonly opts: Required<Omit<DataCopierOptions, 'log'>> & { log: (m: string) => void };

  /**
   * @param mirror the mirror's own engine (a Meta of its own: the copier registers a session on it)
   * @param from the source's store as stored (raw, sharded), `to` the mirror's; `prefix` holds every block
   */
  constructor(
    readonly mirror: Meta,
    readonly from: ObjectStore,
    readonly to: ObjectStore,
    readonly blocks: SliceBlocks,
    readonly prefix: string,
    opts: DataCopierOptions = {},
  ) {
    this.opts = {
      threads: opts.threads ?? 8,
      batch: opts.batch ?? 500,
      maxIdleMs: opts.maxIdleMs ?? 200,
      retryMs: opts.retryMs ?? 1000,
      log: opts.log ?? (() => undefined),
    };
    if (!Number.isInteger(this.opts.threads) || this.opts.threads < 1) {
      throw new FsError('EINVAL', { message: `data copy threads must be a whole number of at least 1, got ${opts.threads}` });
    }
  }

  /** Registers the copier (refusing a second one for the same mirror), loads its state and starts the loop. */
  async start(): Promise<void> {
    const now = Date.now();
    const other = (await this.mirror.listSessions()).find((s) => s.mirrorDataCopier && now - s.heartbeat < COPIER_ALIVE_MS && !deadHere(s));
    if (other) {
      throw new FsError('EBUSY', {
        message: `a data copier already runs for this mirror (pid ${other.pid} on ${other.hostname}, heartbeat ${Math.round((now - other.heartbeat) / 1000)} s ago): stop it first`,
      });
    }
    await this.to.create();
    await this.load();
    await this.mirror.newSession({ mountPoint: 'mirror data copier', role: 'copier', mirrorDataCopier: true });
    this.loop = this.run();
  }

  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => undefined);
    await this.persist().catch(() => undefined);
    await this.mirror.closeSession().catch(() => undefined);
  }

  /** The state of the mirror's current snapshot; a fresh one after a re-snapshot. */
  private async load(): Promise<void> {
    const f = await this.mirror.load();
    const info = mirrorOf(f);
    if (!info?.storage) throw new FsError('EINVAL', { message: `${this.mirror.url} is not a mirror with its own object store (create it with --storage)` });
    const st = dataCopyOf(f);
    this.state =
      st && st.snapshotVersion === info.snapshotVersion
        ? { ...st, lastError: undefined }
        : { snapshotVersion: info.snapshotVersion, backfilled: false, cursor: 0, copiedBlocks: 0, copiedBytes: 0, deletedBlocks: 0, pendingBlocks: 0, pendingBytes: 0, updatedAt: Date.now() };
  }

  private async run(): Promise<void> {
    for (let idle = 0; !this.stopped; ) {
      let n = 0;
      try {
        n = await this.step();
        if (this.state.lastError) {
          this.state.lastError = undefined;
          await this.persist();
        }
      } catch (e) {
        if (this.stopped) break;
        const msg = (e as Error).message ?? String(e);
        if (msg !== this.state.lastError) this.opts.log(`data copy: ${msg} (retrying)`);
        this.state.lastError = msg;
        await this.persist().catch(() => undefined);
        await sleep(this.opts.retryMs);
        continue;
      }
      if (Date.now() - this.lastPersist >= HEARTBEAT_MS) await this.persist().catch(() => undefined);
      if (n > 0) idle = 0;
      else await sleep((idle = Math.min(this.opts.maxIdleMs, idle ? idle * 2 : 5)));
    }
  }

  /** One unit of work: the first full pass, or one batch of changelog records. Returns records handled. */
  async step(): Promise<number> {
    if (!this.state.backfilled) return this.backfill();
    const recs = await this.mirror.readChangelog(this.state.cursor, this.opts.batch);
    if (!recs.length) return 0;
    if (recs[0].version > this.state.cursor + 1) {
      // The mirror's log no longer reaches the cursor: only a full pass can tell what the store must hold.
      this.opts.log(`data copy: the mirror changelog starts at ${recs[0].version}, after the cursor ${this.state.cursor}: doing a full pass`);
      this.state.backfilled = false;
      return 0;
    }
    const { adds, frees } = slicesOf(recs);
    const todo: Array<{ key: string; length: number; slice: number }> = [];
    for (const [id, size] of adds) if (!this.known.has(id)) for (const b of this.blocks(id, size)) todo.push({ ...b, slice: id });
    this.setPending(todo);
    const last = recs[recs.length - 1].version;
    await this.copy(todo, last, true);
    for (const [id] of adds) this.remember(id);
    await this.limited([...frees].flatMap(([id, size]) => this.blocks(id, size)), async (b) => {
      await this.to.delete(b.key);
      this.state.deletedBlocks++;
    });
    for (const [id] of frees) this.known.delete(id);
    this.state.cursor = last;
    this.setPending([]);
    await this.persist();
    return recs.length;
  }

  /**
   * The first pass: the mirror's namespace in one transaction, its blocks made present in the mirror's
   * store and everything else there deleted (copies of slices freed while no copier ran, or before a
   * re-snapshot). Redone from scratch if interrupted; the listing makes a redo cheap.
   */
  private async backfill(): Promise<number> {
    const snap = await this.mirror.exportSnapshot();
    const live = new Map<string, { length: number; slice: number }>();
    for (const m of snap.mutations) {
      if (m.t !== 'chunk') continue;
      for (const s of m.slices) if (s.id) for (const b of this.blocks(s.id, s.size)) live.set(b.key, { length: b.length, slice: s.id });
    }
    const present = new Set<string>();
    for await (const o of this.to.listAll(this.prefix)) if (!o.isDir) present.add(o.key);
    const todo = [...live].filter(([k]) => !present.has(k)).map(([key, b]) => ({ key, ...b }));
    this.opts.log(`data copy: first pass at version ${snap.version}: ${live.size} blocks live, ${todo.length} to copy`);
    this.setPending(todo);
    await this.persist();
    await this.copy(todo, snap.version, false);
    await this.limited([...present].filter((k) => !live.has(k)), async (key) => {
      await this.to.delete(key);
      this.state.deletedBlocks++;
    });
    this.known = new Set([...live.values()].map((b) => b.slice));
    Object.assign(this.state, { backfilled: true, cursor: snap.version });
    this.setPending([]);
    await this.persist();
    return 1;
  }

  /**
   * Copies blocks from the source's store. A block the source no longer has belongs to a slice freed by a
   * later record (it is deleted only after that record commits): fine once the mirror has that record, an
   * error until then (the batch is retried, so nothing is skipped on a store that merely lost the block).
   */
  private async copy(todo: Array<{ key: string; length: number; slice: number }>, after: number, check: boolean): Promise<void> {
    const missing = new Set<number>();
    let firstMissing = '';
    await this.limited(todo, async (b) => {
      if (check) {
        try {
          await this.to.head(b.key);
          this.state.pendingBlocks--;
          this.state.pendingBytes -= b.length;
          return;
        } catch (e) {
          if (!notFound(e)) throw e;
        }
      }
      let data: Buffer;
      try {
        data = await this.from.get(b.key);
      } catch (e) {
        if (!notFound(e)) throw e;
        missing.add(b.slice);
        firstMissing ||= b.key;
        return;
      }
      await this.to.put(b.key, data);
      this.state.copiedBlocks++;
      this.state.copiedBytes += data.length;
      this.state.pendingBlocks--;
      this.state.pendingBytes -= b.length;
    });
    if (!missing.size) return;
    const unresolved = await this.freedLater(after, missing);
    if (unresolved.size) {
      throw new FsError('EIO', {
        message: `block ${firstMissing} is not in the source store ${this.from.url} although its slice was not freed (yet): waiting for the record that frees it`,
      });
    }
  }

  /** The slices among `ids` that no record of the mirror's changelog after `after` frees. */
  private async freedLater(after: number, ids: Set<number>): Promise<Set<number>> {
    const left = new Set(ids);
    for (let from = after; left.size; ) {
      const recs = await this.mirror.readChangelog(from, 1000);
      if (!recs.length) break;
      for (const [id] of slicesOf(recs).frees) left.delete(id);
      from = recs[recs.length - 1].version;
    }
    return left;
  }

  private limited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failed: unknown;
    const worker = async () => {
      while (next < items.length && failed === undefined && !this.stopped) {
        try {
          await fn(items[next++]!);
        } catch (e) {
          failed ??= e;
        }
      }
    };
    return Promise.all(Array.from({ length: Math.min(this.opts.threads, items.length) }, worker)).then(() => {
      if (failed !== undefined) throw failed;
      if (this.stopped && next < items.length) throw new FsError('ECANCELED', { message: 'data copier stopped' });
    });
  }

  private remember(id: number): void {
    if (this.known.size >= 1_000_000) this.known.clear();
    this.known.add(id);
  }

  private setPending(todo: Array<{ length: number }>): void {
    this.state.pendingBlocks = todo.length;
    this.state.pendingBytes = todo.reduce((n, b) => n + b.length, 0);
  }

  /** Saves progress in the mirror's format record (and heartbeats); a re-snapshot found there starts over. */
  private async persist(): Promise<void> {
    this.lastPersist = Date.now();
    let resnapshotted = false;
    const state = { ...this.state, updatedAt: Date.now() };
    await this.mirror.updateFormat((old) => {
      resnapshotted = mirrorOf(old)?.snapshotVersion !== state.snapshotVersion;
      return resnapshotted ? {} : { dataCopy: state };
    });
    await this.mirror.heartbeat();
    if (resnapshotted) {
      this.opts.log('data copy: the mirror was re-snapshotted: starting over');
      this.known.clear();
      await this.load();
    }
  }
}

/** Slices the records list (new ones, and the old ones of chunks they rewrite) minus those they free; and the freed. */
export function slicesOf(recs: ChangeRecord[]): { adds: Map<number, number>; frees: Map<number, number> } {
  const adds = new Map<number, number>();
  const frees = new Map<number, number>();
  for (const rec of recs) {
    for (const m of rec.mutations) {
      if (m.t === 'slice') {
        if (m.slice.id) adds.set(m.slice.id, m.slice.size);
      } else if (m.t === 'chunk') {
        for (const s of m.slices) if (s.id) adds.set(s.id, s.size);
      } else if (m.t === 'free') {
        frees.set(m.id, m.size);
        adds.delete(m.id);
      }
    }
  }
  return { adds, frees };
}

/**
 * What the copier still has to do, from its saved state: the blocks of the batch it works on plus those of
 * the records it has not reached (an upper bound: records that rewrite a chunk list its old slices too).
 */
export async function pendingData(mirror: Meta, st: DataCopyState, blocks: SliceBlocks, maxRecords = 20_000): Promise<{ blocks: number; bytes: number; records: number; exact: boolean }> {
  let n = st.pendingBlocks;
  let bytes = st.pendingBytes;
  let records = 0;
  if (!st.backfilled) return { blocks: n, bytes, records, exact: false };
  for (let from = st.cursor; records < maxRecords; ) {
    const recs = await mirror.readChangelog(from, 1000);
    if (!recs.length) return { blocks: n, bytes, records, exact: true };
    for (const [id, size] of slicesOf(recs).adds) for (const b of blocks(id, size)) (n++, (bytes += b.length));
    records += recs.length;
    from = recs[recs.length - 1].version;
  }
  return { blocks: n, bytes, records, exact: false };
}
