// A consistent snapshot of a volume without one long transaction: walk every table with the scans, page
// by page, then replay the changelog written meanwhile.
//
// Why this converges to the volume at the final version vEnd: let v0 be the version before the walk.
// Every walked row was read at some version in [v0, v1], v1 being the last record after the walk.
// - Most mutations set or delete one key (attr, entry, symlink, xattr, chunk, counter): replaying all
//   records (v0, vEnd] in order over the walk leaves each key at its last mutation, or, when it had none,
//   at the walked value, which was then also its value at vEnd. A row present for the whole walk is never
//   missed (keyset paging, or SCAN's guarantee), so nothing unchanged is lost.
// - Two are deltas, not idempotent: an appended slice and a hard-link count change. Replayed over a row
//   walked after them they would apply twice. So every key such a delta touched in (v0, v1] is read again
//   between two version reads va and vb, accepted only if no record in (va, vb] touched it (then the value
//   read is the value at va), and only its records after va are replayed. Keys first touched by a delta
//   after v1 were unchanged during the walk (the walked value is their value at v1): replay is exact.
import { fsErr } from '../../errors.js';
import type { Engine, Tx } from '../tx.js';
import { txPage, type ScanKind, type ScanRows } from '../scan.js';
import type { ChangeRecord, Mutation, Slice, Snapshot } from '../types.js';

const VERSION = 'version';
/** Rounds of re-reading keys that keep changing before giving up. */
const MAX_ROUNDS = 50;

const chunkKey = (ino: number, indx: number) => `${ino}:${indx}`;

/** The key a delta mutation changes: a chunk, or an inode's hard-link rows. */
function deltaKey(m: Mutation): string | undefined {
  if (m.t === 'slice') return 'c' + chunkKey(m.ino, m.indx);
  if (m.t === 'parent') return 'p' + m.ino;
  return undefined;
}

/** Every key a mutation changes that deltaKey can name (so chunk sets count for chunk keys too). */
function touchedKey(m: Mutation): string | undefined {
  if (m.t === 'chunk' || m.t === 'rmchunk') return 'c' + chunkKey(m.ino, m.indx);
  return deltaKey(m);
}

export interface SnapshotOptions {
  /** Rows per scan page. */
  batch?: number;
}

export class SnapshotExporter {
  private readonly batch: number;
  /** Records after v0, in order; vEnd is the last version read. */
  private readonly records: ChangeRecord[] = [];
  private vEnd = 0;

  constructor(private readonly eng: Engine, opts: SnapshotOptions = {}) {
    this.batch = Math.max(1, opts.batch ?? 1000);
  }

  async run(): Promise<Snapshot> {
    const v0 = await this.version();
    this.vEnd = v0;
    const walked = await this.walk();
    await this.readRecords();
    // Keys changed by a delta during the walk: their walked rows are replaced by exact reads.
    const pending = new Set<string>();
    for (const r of this.records) for (const m of r.mutations) {
      const k = deltaKey(m);
      if (k) pending.add(k);
    }
    const exact = await this.readExact(pending);
    const out: Mutation[] = walked.filter((m) => {
      const k = touchedKey(m);
      return k === undefined || !exact.has(k);
    });
    for (const e of exact.values()) out.push(...e.rows);
    for (const r of this.records) {
      for (const m of r.mutations) {
        const k = touchedKey(m);
        const e = k === undefined ? undefined : exact.get(k);
        if (!e || r.version > e.at) out.push(m);
      }
    }
    return { version: this.vEnd, mutations: out };
  }

  private version(): Promise<number> {
    return this.eng.read((tx) => tx.getCounter(VERSION));
  }

  private async *rows<K extends ScanKind>(kind: K): AsyncGenerator<ScanRows[K]> {
    let cursor: string | undefined;
    do {
      const c = cursor;
      const page = await this.eng.read((tx) => txPage(tx, kind, c, this.batch));
      yield* page.rows;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  /** Every table as mutations that recreate it in an empty volume. */
  private async walk(): Promise<Mutation[]> {
    const out: Mutation[] = [];
    for await (const r of this.rows('inodes')) out.push({ t: 'attr', ino: r.ino, attr: r.attr });
    for await (const r of this.rows('symlinks')) out.push({ t: 'symlink', ino: r.ino, target: r.target });
    for await (const r of this.rows('xattrs')) out.push({ t: 'xattr', ino: r.ino, name: r.name, value: r.value.toString('base64') });
    for await (const r of this.rows('entries')) out.push({ t: 'entry', parent: r.parent, name: r.name, ino: r.ino, type: r.type });
    for await (const r of this.rows('chunks')) out.push({ t: 'chunk', ino: r.ino, indx: r.indx, slices: r.slices });
    // Link rows are deltas: a row a walk returns twice (Redis SCAN may) must count once.
    const links = new Map<string, Mutation>();
    for await (const r of this.rows('parents')) links.set(`${r.ino}:${r.parent}`, { t: 'parent', ino: r.ino, parent: r.parent, delta: r.count });
    out.push(...links.values());
    const counters = await this.eng.read(async (tx) => [await tx.getCounter('usedSpace'), await tx.getCounter('totalInodes')]);
    out.push({ t: 'counter', name: 'usedSpace', value: counters[0]! }, { t: 'counter', name: 'totalInodes', value: counters[1]! });
    return out;
  }

  /** Appends the records after vEnd, checking none is missing (a trimmed changelog cannot be replayed). */
  private async readRecords(): Promise<ChangeRecord[]> {
    const added: ChangeRecord[] = [];
    for (;;) {
      const rows = await this.eng.readChangelog(this.vEnd, 1000);
      if (!rows.length) return added;
      for (const row of rows) {
        if (row.version !== this.vEnd + 1) {
          throw fsErr('EIO', `changelog record ${this.vEnd + 1} is gone (trimmed while taking a snapshot): try again`);
        }
        const rec = { version: row.version, op: row.op, ts: row.ts, mutations: JSON.parse(row.record) as Mutation[] };
        this.records.push(rec);
        added.push(rec);
        this.vEnd = row.version;
      }
    }
  }

  /**
   * Reads each key between two version reads va and vb, keeping it once no record in (va, vb] touched
   * it: the value read is then the key's value at va. Keys that changed meanwhile are read again.
   */
  private async readExact(pending: Set<string>): Promise<Map<string, { at: number; rows: Mutation[] }>> {
    const exact = new Map<string, { at: number; rows: Mutation[] }>();
    for (let round = 0; pending.size; round++) {
      if (round === MAX_ROUNDS) throw fsErr('EAGAIN', `${pending.size} files kept changing while taking a snapshot: try again`);
      if (round > 0) await new Promise((r) => setTimeout(r, Math.min(2 ** round, 100) * Math.random()));
      const va = await this.version();
      const values = new Map<string, Mutation[]>();
      for (const k of pending) values.set(k, await this.eng.read((tx) => readKey(tx, k)));
      const vb = await this.version();
      // The records up to vb (and maybe beyond): keys they touched after va are not settled yet.
      await this.readRecords();
      if (this.vEnd < vb) throw fsErr('EIO', `changelog ends at ${this.vEnd} below version ${vb}`);
      const moved = new Set<string>();
      for (const r of this.records) {
        if (r.version <= va || r.version > vb) continue;
        for (const m of r.mutations) {
          const k = touchedKey(m);
          if (k) moved.add(k);
        }
      }
      for (const [k, rows] of values) {
        if (moved.has(k)) continue;
        exact.set(k, { at: va, rows });
        pending.delete(k);
      }
    }
    return exact;
  }
}

/** The mutations recreating one delta key (a chunk or an inode's link rows) as it is now. */
async function readKey(tx: Tx, key: string): Promise<Mutation[]> {
  if (key[0] === 'c') {
    const [ino, indx] = key.slice(1).split(':').map(Number) as [number, number];
    const slices: Slice[] = await tx.getChunk(ino, indx);
    return slices.length ? [{ t: 'chunk', ino, indx, slices }] : [];
  }
  const ino = Number(key.slice(1));
  return (await tx.listParents(ino)).map((p) => ({ t: 'parent', ino, parent: p.parent, delta: p.count }));
}
