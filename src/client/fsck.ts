// ferry fsck: checks a volume's metadata against itself and its blocks against the object store, with the
// scans (meta/scan.ts), so memory grows with the number of inodes by two numbers each, never with a tree.
// What it checks: entries naming inodes that do not exist, link counts that disagree with the entries,
// inodes no entry names (not open, not in the trash), the usedSpace/totalInodes counters, blocks of
// referenced slices missing from the store (one HEAD each) and, with checkBlocks, blocks whose checksum
// fails (each read through the volume's store stack, whose checksum transform verifies it).
// A walk is not a snapshot: run it on a quiet volume (or read its findings as hints); repairs re-check
// each defect in their own transaction (base/repair.ts), so they never undo a client's change.
import { isFsError } from '../errors.js';
import { isMissingBlock, type ChunkStore } from '../chunk/store.js';
import { blockCount } from '../chunk/keys.js';
import { forEachLimited } from '../chunk/limiter.js';
import { spaceOf } from '../meta/attrs.js';
import type { Meta } from '../meta/interface.js';
import { isTrashDir } from '../meta/trash-names.js';
import { ROOT_INODE, TYPE_DIRECTORY, rootContext, type FsckFix } from '../meta/types.js';

export type FsckKind = 'dangling-entry' | 'wrong-nlink' | 'orphan' | 'counter' | 'missing-block' | 'bad-block';

export interface FsckProblem {
  kind: FsckKind;
  /** One line saying what is wrong (and where). */
  message: string;
  ino?: number;
  /** The repair that fixes it, when one is safe; undefined: fsck cannot repair it. */
  fix?: FsckFix;
  /** Set by a repair run: whether the fix was applied. */
  repaired?: boolean;
}

export interface FsckProgress {
  phase: 'tree' | 'inodes' | 'entries' | 'blocks' | 'repair';
  done: number;
}

export interface FsckOptions {
  /** Check only the subtree at this path (counters and orphans, which have no path, are then skipped). */
  path?: string;
  repair?: boolean;
  /** Read every block (checksums verified) instead of one HEAD each. */
  checkBlocks?: boolean;
  /** Object requests in flight at once (default 16). */
  threads?: number;
  /** Rows per scan page. */
  batch?: number;
  progress?: (p: FsckProgress) => void;
}

export interface FsckReport {
  inodes: number;
  entries: number;
  slices: number;
  blocks: number;
  problems: FsckProblem[];
  /** What fsck did not check, and why (said in the summary). */
  notes: string[];
}

/** Problems that remain after the run (not repaired). */
export const unresolved = (r: FsckReport) => r.problems.filter((p) => !p.repaired);

// Per-inode facts packed in one number each: nlink * 8 + type (types are 1..7).
const pack = (nlink: number, type: number) => nlink * 8 + type;
const nlinkOf = (v: number) => Math.floor(v / 8);
const typeOf = (v: number) => v % 8;

export async function fsck(meta: Meta, store: ChunkStore, opts: FsckOptions = {}): Promise<FsckReport> {
  const batch = opts.batch ?? 1000;
  const threads = Math.max(1, opts.threads ?? 16);
  const progress = opts.progress ?? (() => undefined);
  const report: FsckReport = { inodes: 0, entries: 0, slices: 0, blocks: 0, problems: [], notes: [] };
  const subtree = opts.path !== undefined && opts.path !== '/' ? await subtreeOf(meta, opts.path, progress) : undefined;
  if (subtree) report.notes.push(`counters and orphans are volume-wide: not checked with --path`);
  const within = (ino: number) => !subtree || subtree.has(ino);

  // 1. Every inode: its link count and type, and the counters' true values.
  const inodes = new Map<number, number>();
  let usedSpace = 0;
  let totalInodes = 0;
  for await (const { ino, attr } of meta.scanInodes({ batch })) {
    inodes.set(ino, pack(attr.nlink, attr.type));
    // The trash's directories are bookkeeping outside the namespace: never counted (trash-moves.ts).
    if (!isTrashDir(ino)) {
      totalInodes++;
      usedSpace += spaceOf(attr);
    }
    if (++report.inodes % 10000 === 0) progress({ phase: 'inodes', done: report.inodes });
  }

  // 2. Every entry: how many names each inode has, and how many subdirectories each directory.
  const links = new Map<number, number>();
  const bump = (ino: number) => links.set(ino, (links.get(ino) ?? 0) + 1);
  for await (const e of meta.scanEntries({ batch })) {
    if (++report.entries % 10000 === 0) progress({ phase: 'entries', done: report.entries });
    if (!inodes.has(e.ino)) {
      if (within(e.parent)) {
        report.problems.push({
          kind: 'dangling-entry',
          ino: e.ino,
          message: `entry '${e.name}' in directory ${e.parent} names inode ${e.ino}, which does not exist`,
          fix: { kind: 'dangling', parent: e.parent, name: e.name, ino: e.ino },
        });
      }
      continue;
    }
    bump(e.ino);
    if (e.type === TYPE_DIRECTORY) bump(e.parent); // its ".."
  }

  // 3. Link counts and orphans. A directory's count is its name, its "." and its subdirectories' "..";
  // the root has no name. The trash's directories keep counts of their own (not checked).
  for (const [ino, v] of inodes) {
    if (isTrashDir(ino) || !within(ino)) continue;
    const names = links.get(ino) ?? 0;
    const nlink = nlinkOf(v);
    const dir = typeOf(v) === TYPE_DIRECTORY;
    if (ino !== ROOT_INODE && names === 0) {
      if (subtree) continue;
      // No name: an unlinked file still open somewhere is fine; anything else is lost.
      if ((await meta.openHolders(ino)).length > 0) continue;
      report.problems.push({ kind: 'orphan', ino, message: `inode ${ino} (${dir ? 'directory' : 'nlink ' + nlink}) has no entry and is not open`, fix: { kind: 'orphan', ino } });
      continue;
    }
    const want = dir ? names + (ino === ROOT_INODE ? 2 : 1) : names;
    if (nlink !== want) {
      report.problems.push({ kind: 'wrong-nlink', ino, message: `inode ${ino} has nlink ${nlink}, its entries say ${want}`, fix: { kind: 'nlink', ino, from: nlink, to: want } });
    }
  }
  links.clear();

  // 4. Counters, read after the walk (a quiet volume's counters do not move meanwhile).
  if (!subtree) {
    for (const [name, actual] of [['usedSpace', usedSpace], ['totalInodes', totalInodes]] as const) {
      const counted = await meta.getCounter(name);
      if (counted !== actual) {
        report.problems.push({
          kind: 'counter',
          message: `${name} counter is ${counted}, the inodes add up to ${actual} (${counted > actual ? '+' : ''}${counted - actual})`,
          fix: { kind: 'counter', name, delta: actual - counted },
        });
      }
    }
  }
  report.notes.push('directory quotas keep no usage of their own yet: nothing to check');

  // 5. Blocks of every referenced slice: present (HEAD), or readable with a valid checksum (checkBlocks).
  await checkBlocks(meta, store, report, { batch, threads, within, read: Boolean(opts.checkBlocks), progress });

  await describePaths(meta, report, batch);
  if (opts.repair) {
    let done = 0;
    for (const p of report.problems) {
      if (!p.fix) continue;
      p.repaired = await meta.fsckRepair(p.fix);
      progress({ phase: 'repair', done: ++done });
    }
  }
  return report;
}

async function checkBlocks(
  meta: Meta,
  store: ChunkStore,
  report: FsckReport,
  o: { batch: number; threads: number; within: (ino: number) => boolean; read: boolean; progress: (p: FsckProgress) => void },
): Promise<void> {
  const seen = new Set<number>();
  let queue: Array<{ ino: number; id: number; size: number; index: number }> = [];
  const flush = async () => {
    const work = queue;
    queue = [];
    await forEachLimited(work, o.threads, async (b) => {
      const key = store.keyOf(b.id, b.size, b.index);
      try {
        if (o.read) await store.readBlock(b.id, b.size, b.index);
        else await store.objects.head(key);
      } catch (e) {
        const missing = isMissingBlock(e) || isFsError(e, 'ENOENT');
        report.problems.push({
          kind: missing ? 'missing-block' : 'bad-block',
          ino: b.ino,
          message: missing ? `inode ${b.ino}: block ${key} of slice ${b.id} is missing from the object store` : `inode ${b.ino}: block ${key} of slice ${b.id} cannot be read: ${(e as Error).message}`,
        });
      }
      if (++report.blocks % 1000 === 0) o.progress({ phase: 'blocks', done: report.blocks });
    });
  };
  for await (const c of meta.scanChunks({ batch: o.batch })) {
    if (!o.within(c.ino)) continue;
    for (const s of c.slices) {
      if (s.id <= 0 || s.size <= 0 || seen.has(s.id)) continue;
      seen.add(s.id);
      report.slices++;
      for (let i = 0; i < blockCount(s.size, store.blockSize); i++) queue.push({ ino: c.ino, id: s.id, size: s.size, index: i });
    }
    if (queue.length >= 4 * o.threads) await flush();
  }
  await flush();
}

/** Every inode under `path` (itself included), walked with readdir. */
async function subtreeOf(meta: Meta, path: string, progress: (p: FsckProgress) => void): Promise<Set<number>> {
  const ctx = rootContext();
  const top = await meta.resolve(ctx, ROOT_INODE, path.replace(/^\/+/, ''));
  const set = new Set<number>([top.inode]);
  const dirs = top.attr.type === TYPE_DIRECTORY ? [top.inode] : [];
  while (dirs.length) {
    const dir = dirs.pop()!;
    for (let after: string | undefined; ; ) {
      const page = await meta.readdir(ctx, dir, { after, limit: 1000 });
      for (const e of page) {
        set.add(e.inode);
        if (e.attr.type === TYPE_DIRECTORY) dirs.push(e.inode);
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!.name;
    }
    progress({ phase: 'tree', done: set.size });
  }
  return set;
}

/**
 * Adds the path of each problem's inode to its message, where one exists: one more walk of the entries per
 * level of depth, for the few inodes concerned (at most 1,000; the rest keep their inode numbers).
 */
async function describePaths(meta: Meta, report: FsckReport, batch: number): Promise<void> {
  const wanted = new Set<number>();
  for (const p of report.problems) if (p.ino !== undefined && p.kind !== 'orphan' && p.kind !== 'dangling-entry' && wanted.size < 1000) wanted.add(p.ino);
  if (!wanted.size) return;
  const nameOf = new Map<number, { parent: number; name: string }>();
  let missing = new Set(wanted);
  for (let depth = 0; missing.size && depth < 64; depth++) {
    const next = new Set<number>();
    for await (const e of meta.scanEntries({ batch })) {
      if (!missing.has(e.ino) || nameOf.has(e.ino)) continue;
      nameOf.set(e.ino, { parent: e.parent, name: e.name });
      if (e.parent !== ROOT_INODE && !isTrashDir(e.parent) && !nameOf.has(e.parent)) next.add(e.parent);
    }
    missing = next;
  }
  const pathOf = (ino: number): string | undefined => {
    const parts: string[] = [];
    for (let i = ino, n = 0; i !== ROOT_INODE; n++) {
      const e = nameOf.get(i);
      if (!e || n > 64) return undefined;
      if (isTrashDir(e.parent)) return `/.trash/…/${e.name}`;
      parts.unshift(e.name);
      i = e.parent;
    }
    return '/' + parts.join('/');
  };
  for (const p of report.problems) {
    const path = p.ino !== undefined && wanted.has(p.ino) ? pathOf(p.ino) : undefined;
    if (path) p.message = p.message.replace(`inode ${p.ino}`, `${path} (inode ${p.ino})`);
  }
}
