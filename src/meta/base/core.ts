// MetaCore: what every operation stands on — transactions that bump the version and append a changelog
// record, the volume format, counters, id allocation and client sessions.
import { hostname } from 'node:os';
import { FsError, fsErr } from '../../errors.js';
import { FERRY_VERSION } from '../../version.js';
import { applyMutation, recordingTx } from '../changelog.js';
import type { Engine, Tx } from '../tx.js';
import {
  ROOT_INODE,
  TYPE_DIRECTORY,
  TYPE_SYMLINK,
  type ChangeRecord,
  type Format,
  type Mutation,
  type SessionInfo,
  type Snapshot,
  type Versioned,
} from '../types.js';
import { newAttr, stamp } from '../attrs.js';

/** Ids are taken from the engine in batches so creating a file does not pay an extra round trip. */
class IdPool {
  private next = 0;
  private end = 0;
  private refill?: Promise<void>;
  constructor(private readonly take: (n: number) => Promise<number>, private readonly batch: number) {}

  async alloc(): Promise<number> {
    while (this.next >= this.end) {
      this.refill ??= this.take(this.batch).then(
        (last) => {
          this.next = last - this.batch + 1;
          this.end = last + 1;
          this.refill = undefined;
        },
        (e) => {
          this.refill = undefined;
          throw e;
        },
      );
      await this.refill;
    }
    return this.next++;
  }
}

export const VERSION_COUNTER = 'version';
export const APPLIED_COUNTER = 'appliedVersion';

export class MetaCore {
  sid = 0;
  /** When set, namespace-changing results carry their changelog record (a writable mirror replays it). */
  keepRecords = false;
  protected fmt?: Format;
  protected readonly inodes: IdPool;
  protected readonly slices: IdPool;

  constructor(protected readonly eng: Engine) {
    this.inodes = new IdPool((n) => this.eng.txn((tx) => tx.incrCounter('nextInode', n)), 100);
    this.slices = new IdPool((n) => this.eng.txn((tx) => tx.incrCounter('nextSlice', n)), 1000);
  }

  get url(): string {
    return this.eng.url;
  }

  get engine(): string {
    return this.eng.name;
  }

  /**
   * Runs a namespace-changing operation in one transaction: the logged writes become one changelog
   * record at the next volume version, committed together with the change.
   */
  protected async change<T extends object>(op: string, fn: (tx: Tx) => Promise<T>): Promise<T & Versioned> {
    return this.eng.txn(async (tx) => {
      const muts: Mutation[] = [];
      const res = await fn(recordingTx(tx, muts));
      if (!muts.length) return Object.assign(res, { version: await tx.getCounter(VERSION_COUNTER) });
      const version = await tx.incrCounter(VERSION_COUNTER, 1);
      const ts = Date.now();
      await tx.appendChangelog(version, op, ts, JSON.stringify(muts));
      return Object.assign(res, this.keepRecords ? { version, record: { version, op, ts, mutations: muts } } : { version });
    });
  }

  // ---- volume ----

  async init(format: Format, force = false): Promise<void> {
    await this.eng.createSchema();
    await this.eng.txn(async (tx) => {
      const old = await tx.getSetting();
      if (old && !force) {
        throw new FsError('EEXIST', { message: `volume '${old.name}' is already formatted here (uuid ${old.uuid}); use --force to update it` });
      }
      if (old) {
        await tx.setSetting({ ...old, ...format, uuid: old.uuid, createdAt: old.createdAt });
        return;
      }
      // New volumes keep FLAG_XATTRS on inodes given extended attributes (older ones did not: see types.ts).
      await tx.setSetting({ ...format, xattrFlags: true });
      const t = stamp();
      const root = newAttr(TYPE_DIRECTORY, 0o777, 0, 0, ROOT_INODE, t);
      await tx.setAttr(ROOT_INODE, root);
      await tx.setCounter('nextInode', ROOT_INODE);
      await tx.setCounter('nextSlice', 0);
      await tx.setCounter('nextSession', 0);
      await tx.setCounter(VERSION_COUNTER, 0);
      await tx.setCounter('totalInodes', 1);
      await tx.setCounter('usedSpace', 4096);
    });
    this.fmt = await this.load();
  }

  async load(): Promise<Format> {
    // Engines report a missing database or schema in their own words; an empty one is "not formatted".
    const f = await this.eng.read((tx) => tx.getSetting());
    if (!f) throw new FsError('ENOENT', { message: `no volume is formatted at ${this.url} (run 'ferry format' first)` });
    this.fmt = f;
    return f;
  }

  /** Changes the format; a function computes the change from the current record inside the transaction. */
  async updateFormat(update: Partial<Format> | ((old: Format) => Partial<Format>)): Promise<Format> {
    const f = await this.eng.txn(async (tx) => {
      const old = await tx.getSetting();
      if (!old) throw fsErr('ENOENT', `no volume is formatted at ${this.url}`);
      const change = typeof update === 'function' ? update(old) : update;
      const next = { ...old, ...change, uuid: old.uuid, name: change.name ?? old.name } as Format;
      await tx.setSetting(next);
      return next;
    });
    this.fmt = f;
    return f;
  }

  async destroy(): Promise<void> {
    await this.eng.dropSchema();
  }

  async close(): Promise<void> {
    await this.eng.close();
  }

  protected format(): Format {
    if (!this.fmt) throw fsErr('EIO', 'volume format not loaded');
    return this.fmt;
  }

  // ---- counters, ids, versions ----

  async getCounter(name: string): Promise<number> {
    return this.eng.read((tx) => tx.getCounter(name));
  }

  async currentVersion(): Promise<number> {
    return this.getCounter(VERSION_COUNTER);
  }

  async newSliceId(): Promise<number> {
    return this.slices.alloc();
  }

  async readChangelog(from: number, limit = 1000): Promise<ChangeRecord[]> {
    const rows = await this.eng.readChangelog(from, limit);
    return rows.map((r) => ({ version: r.version, op: r.op, ts: r.ts, mutations: JSON.parse(r.record) as Mutation[] }));
  }

  async trimChangelog(upTo: number): Promise<number> {
    return this.eng.trimChangelog(upTo);
  }

  /**
   * Replays a source record if it is the next one; the same transaction records it as applied, so a restart
   * never applies it twice and nothing is skipped. Returns the applied version afterwards.
   */
  async applyChangeRecord(rec: ChangeRecord): Promise<number> {
    return this.eng.txn(async (tx) => {
      const applied = await tx.getCounter(APPLIED_COUNTER);
      if (rec.version !== applied + 1) return applied;
      for (const m of rec.mutations) await applyMutation(tx, m);
      await tx.setCounter(APPLIED_COUNTER, rec.version);
      await tx.setCounter(VERSION_COUNTER, rec.version);
      await tx.appendChangelog(rec.version, rec.op, rec.ts, JSON.stringify(rec.mutations));
      return rec.version;
    });
  }

  /**
   * Walks the whole namespace in one transaction, so the copy is exactly the volume at `version`.
   * Inodes only kept alive by open handles are left out: the changelog frees them later.
   */
  async exportSnapshot(): Promise<Snapshot> {
    return this.eng.txn(async (tx) => {
      const mutations: Mutation[] = [];
      const version = await tx.getCounter(VERSION_COUNTER);
      const seen = new Set<number>();
      const todo: number[] = [ROOT_INODE];
      while (todo.length) {
        const ino = todo.pop()!;
        if (seen.has(ino)) continue;
        seen.add(ino);
        const attr = await tx.getAttr(ino);
        if (!attr) continue;
        mutations.push({ t: 'attr', ino, attr });
        if (attr.type === TYPE_SYMLINK) mutations.push({ t: 'symlink', ino, target: (await tx.getSymlink(ino)) ?? '' });
        for (const name of await tx.listXattr(ino)) {
          mutations.push({ t: 'xattr', ino, name, value: ((await tx.getXattr(ino, name)) ?? Buffer.alloc(0)).toString('base64') });
        }
        for (const indx of await tx.listChunkIndexes(ino, 0)) {
          mutations.push({ t: 'chunk', ino, indx, slices: await tx.getChunk(ino, indx) });
        }
        if (attr.type !== TYPE_DIRECTORY && attr.parent === 0) {
          for (const p of await tx.listParents(ino)) mutations.push({ t: 'parent', ino, parent: p.parent, delta: p.count });
        }
        if (attr.type !== TYPE_DIRECTORY) continue;
        for (let after: string | undefined; ; ) {
          const page = await tx.listEntries(ino, after, 10_000, false);
          for (const e of page) {
            mutations.push({ t: 'entry', parent: ino, name: e.name, ino: e.inode, type: e.attr.type });
            todo.push(e.inode);
          }
          if (page.length < 10_000) break;
          after = page[page.length - 1].name;
        }
      }
      for (const name of ['usedSpace', 'totalInodes']) mutations.push({ t: 'counter', name, value: await tx.getCounter(name) });
      return { version, mutations };
    });
  }

  /** Loads a snapshot into this (freshly formatted) volume and records its version as applied. */
  async importSnapshot(snap: Snapshot): Promise<void> {
    await this.eng.txn(async (tx) => {
      for (const m of snap.mutations) await applyMutation(tx, m);
      await tx.setCounter(APPLIED_COUNTER, snap.version);
      await tx.setCounter(VERSION_COUNTER, snap.version);
    });
  }

  // ---- sessions ----

  async newSession(info: Partial<SessionInfo>): Promise<number> {
    if (!this.fmt) await this.load();
    const sid = await this.eng.txn(async (tx) => {
      const sid = await tx.incrCounter('nextSession', 1);
      await tx.addSession(sid, {
        ...info,
        sid,
        hostname: info.hostname ?? hostname(),
        pid: info.pid ?? process.pid,
        mountPoint: info.mountPoint ?? '',
        version: info.version ?? FERRY_VERSION,
        startedAt: info.startedAt ?? new Date().toISOString(),
        heartbeat: Date.now(),
      });
      return sid;
    });
    this.sid = sid;
    return sid;
  }

  async heartbeat(): Promise<void> {
    if (!this.sid) return;
    const sid = this.sid;
    await this.eng.txn((tx) => tx.updateSession(sid, Date.now()));
  }

  async listSessions(): Promise<SessionInfo[]> {
    return this.eng.read((tx) => tx.listSessions());
  }

  async closeSession(): Promise<void> {
    if (!this.sid) return;
    await this.dropSession(this.sid);
    this.sid = 0;
  }

  async cleanStaleSessions(maxAgeMs: number): Promise<number[]> {
    const limit = Date.now() - maxAgeMs;
    const stale = (await this.listSessions()).filter((s) => s.sid !== this.sid && s.heartbeat < limit);
    for (const s of stale) await this.dropSession(s.sid);
    return stale.map((s) => s.sid);
  }

  /** Releases a session's locks and frees the files it kept alive after their deletion. */
  protected async dropSession(sid: number): Promise<void> {
    const held = await this.eng.read((tx) => tx.listSustained(sid));
    for (const ino of held) await this.releaseSustained(sid, ino);
    await this.eng.txn(async (tx) => {
      await tx.delSessionLocks(sid);
      await tx.delSession(sid);
    });
  }

  /** Overridden by the data layer: deletes an inode that was kept open after its last link went away. */
  protected async releaseSustained(_sid: number, _ino: number): Promise<void> {}
}
