// Helpers shared by the meta conformance suite and its multi-process test: walking a namespace,
// checking its invariants (nlink, counters, changelog), picturing it for comparison, reading slice
// maps, and a deterministic churn workload that several clients can run against one volume.
import assert from 'node:assert/strict';
import type { Meta } from '../../src/meta/interface.js';
import {
  CHUNK_SIZE,
  ROOT_INODE,
  TYPE_DIRECTORY,
  TYPE_FILE,
  TYPE_SYMLINK,
  rootContext,
  type Attr,
  type ChangeRecord,
  type Context,
  type Entry,
  type Slice,
} from '../../src/meta/types.js';

const ROOT = rootContext();

// ---------------------------------------------------------------- errors

/** Awaits p and asserts it fails with one of the errno codes. */
export async function expectCode(p: Promise<unknown>, ...codes: string[]): Promise<void> {
  let result: unknown;
  try {
    result = await p;
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    assert.ok(codes.includes(code as string), `expected ${codes.join(' or ')}, got ${String(code)} (${(e as Error)?.message})`);
    return;
  }
  assert.fail(`expected ${codes.join(' or ')}, but it succeeded with ${JSON.stringify(result)?.slice(0, 200)}`);
}

/** Like expectCode, for a call that must report its failure as a rejected promise (never a synchronous throw). */
export async function expectRejection(call: () => Promise<unknown>, ...codes: string[]): Promise<void> {
  let p: Promise<unknown>;
  try {
    p = call();
  } catch (e) {
    assert.fail(`threw ${(e as { code?: string })?.code ?? String(e)} synchronously instead of returning a rejected promise`);
  }
  await expectCode(p, ...codes);
}

/** The error code of a failed call, or undefined when it succeeded. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

// ---------------------------------------------------------------- walking

/** Every entry of a directory, read page by page. */
export async function listAll(m: Meta, dir: number, plus = true, ctx: Context = ROOT, page = 1000): Promise<Entry[]> {
  const out: Entry[] = [];
  let after: string | undefined;
  for (;;) {
    const batch = await m.readdir(ctx, dir, { after, limit: page, plus });
    out.push(...batch);
    if (batch.length < page) return out;
    after = batch[batch.length - 1]!.name;
  }
}

export interface Node {
  path: string;
  parent: number;
  inode: number;
  attr: Attr;
}

/** Every entry reachable from the root, breadth-first, with attributes from readdirplus. */
export async function walk(m: Meta): Promise<Node[]> {
  const out: Node[] = [];
  const queue: Array<{ ino: number; path: string }> = [{ ino: ROOT_INODE, path: '' }];
  while (queue.length) {
    const dir = queue.shift()!;
    for (const e of await listAll(m, dir.ino)) {
      const path = `${dir.path}/${e.name}`;
      out.push({ path, parent: dir.ino, inode: e.inode, attr: e.attr });
      if (e.attr.type === TYPE_DIRECTORY) queue.push({ ino: e.inode, path });
    }
  }
  return out;
}

/** All changelog records after `from`, read page by page. */
export async function readAllChangelog(m: Meta, from = 0, page = 500): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  for (;;) {
    const batch = await m.readChangelog(from, page);
    out.push(...batch);
    if (batch.length === 0) return out;
    from = batch[batch.length - 1]!.version;
  }
}

// ---------------------------------------------------------------- invariants

export interface InvariantOptions {
  /** statfs.usedInodes of a fresh volume minus one (0 when the root is counted). */
  inodeBase: number;
  /** Inodes unlinked while open: unreachable but alive (nlink 0). */
  openDeleted?: number[];
  /** Inodes that must be either reachable, open-deleted, or gone (ENOENT): catches orphans. */
  probe?: number[];
}

/**
 * Checks what must hold after any sequence of operations: entries agree with attributes, nlink counts
 * the entries (2 + subdirectories for a directory), directories know their parent, the used-inode
 * counter counts the live inodes, and the changelog has one record per version up to the current one.
 */
export async function checkInvariants(m: Meta, opts: InvariantOptions): Promise<Node[]> {
  const nodes = await walk(m);
  const links = new Map<number, number>();
  const subdirs = new Map<number, number>();
  const holders = new Map<number, Set<number>>();
  for (const n of nodes) {
    assert.deepEqual(await m.getattr(ROOT, n.inode), n.attr, `readdirplus attr of ${n.path} equals getattr`);
    links.set(n.inode, (links.get(n.inode) ?? 0) + 1);
    if (!holders.has(n.inode)) holders.set(n.inode, new Set());
    holders.get(n.inode)!.add(n.parent);
    if (n.attr.type === TYPE_DIRECTORY) {
      subdirs.set(n.parent, (subdirs.get(n.parent) ?? 0) + 1);
      assert.equal(n.attr.parent, n.parent, `'..' of ${n.path}`);
    }
  }
  const rootAttr = await m.getattr(ROOT, ROOT_INODE);
  assert.equal(rootAttr.nlink, 2 + (subdirs.get(ROOT_INODE) ?? 0), 'nlink of /');
  for (const n of nodes) {
    if (n.attr.type === TYPE_DIRECTORY) {
      assert.equal(links.get(n.inode), 1, `directory ${n.path} has one entry`);
      assert.equal(n.attr.nlink, 2 + (subdirs.get(n.inode) ?? 0), `nlink of directory ${n.path}`);
    } else {
      assert.equal(n.attr.nlink, links.get(n.inode), `nlink of ${n.path} equals its entries`);
      if (n.attr.parent !== 0) assert.ok(holders.get(n.inode)!.has(n.attr.parent), `parent field of ${n.path} names a directory holding it`);
    }
  }
  const openDeleted = opts.openDeleted ?? [];
  for (const ino of openDeleted) assert.equal((await m.getattr(ROOT, ino)).nlink, 0, `open-deleted inode ${ino}`);
  for (const ino of opts.probe ?? []) {
    if (links.has(ino) || openDeleted.includes(ino)) continue;
    await expectCode(m.getattr(ROOT, ino), 'ENOENT');
  }
  const live = links.size + 1 + openDeleted.length;
  assert.equal((await m.statfs(ROOT)).usedInodes, live + opts.inodeBase, 'statfs usedInodes counts the live inodes');
  await checkChangelog(m);
  return nodes;
}

/** Versions are gap-free: one record per version, the last one being the current version. */
export async function checkChangelog(m: Meta): Promise<ChangeRecord[]> {
  const recs = await readAllChangelog(m);
  for (let i = 1; i < recs.length; i++) assert.equal(recs[i]!.version, recs[i - 1]!.version + 1, 'changelog versions are consecutive');
  if (recs.length) assert.equal(recs[recs.length - 1]!.version, await m.currentVersion(), 'last record is the current version');
  return recs;
}

// ---------------------------------------------------------------- pictures

/** Everything a user can observe of a namespace, keyed by path: attrs, targets, xattrs, visible slices. */
export async function snapshot(m: Meta): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { '/': { inode: ROOT_INODE, attr: await m.getattr(ROOT, ROOT_INODE) } };
  for (const n of await walk(m)) {
    const xattrs: Record<string, string> = {};
    for (const name of (await m.listxattr(ROOT, n.inode)).sort()) xattrs[name] = (await m.getxattr(ROOT, n.inode, name)).toString('base64');
    const pic: Record<string, unknown> = { inode: n.inode, attr: n.attr, xattrs };
    if (n.attr.type === TYPE_SYMLINK) pic.target = await m.readlink(ROOT, n.inode);
    if (n.attr.type === TYPE_FILE) pic.chunks = await visibleChunks(m, n.inode, n.attr.length);
    out[n.path] = pic;
  }
  const st = await m.statfs(ROOT);
  out['#statfs'] = { usedInodes: st.usedInodes, usedSpace: st.usedSpace };
  return out;
}

async function visibleChunks(m: Meta, ino: number, length: number): Promise<Segment[][]> {
  const chunks: Segment[][] = [];
  for (let indx = 0; indx * CHUNK_SIZE < length; indx++) {
    const end = Math.min(CHUNK_SIZE, length - indx * CHUNK_SIZE);
    chunks.push(visible(await m.readChunk(ROOT, ino, indx)).filter((s) => s.start < end).map((s) => ({ ...s, end: Math.min(s.end, end) })));
  }
  return chunks;
}

// ---------------------------------------------------------------- slice maps

/** A run of chunk positions [start, end) showing bytes of slice `id` from offset `off`. */
export interface Segment {
  start: number;
  end: number;
  id: number;
  off: number;
}

/** The visible map of a chunk (newer slices win), holes (id 0) left out. */
export function visible(slices: Slice[]): Segment[] {
  let segs: Segment[] = [];
  for (const s of slices) {
    const start = s.pos;
    const end = s.pos + s.len;
    const next: Segment[] = [];
    for (const g of segs) {
      if (g.end <= start || g.start >= end) {
        next.push(g);
        continue;
      }
      if (g.start < start) next.push({ ...g, end: start });
      if (g.end > end) next.push({ start: end, end: g.end, id: g.id, off: g.off + (end - g.start) });
    }
    next.push({ start, end, id: s.id, off: s.off });
    segs = next.sort((a, b) => a.start - b.start);
  }
  return segs.filter((g) => g.id !== 0 && g.end > g.start);
}

/** Where the byte at chunk position p comes from: "id@offset", or "hole". */
export function byteAt(segs: Segment[], p: number): string {
  const g = segs.find((s) => s.start <= p && p < s.end);
  return g ? `${g.id}@${g.off + (p - g.start)}` : 'hole';
}

/** Where the bytes at file offsets come from ("id@offset" or "hole"), across chunks. */
export async function fileBytes(m: Meta, ino: number, offsets: number[]): Promise<string[]> {
  const chunks = new Map<number, Segment[]>();
  const out: string[] = [];
  for (const off of offsets) {
    const indx = Math.floor(off / CHUNK_SIZE);
    if (!chunks.has(indx)) chunks.set(indx, visible(await m.readChunk(ROOT, ino, indx)));
    out.push(byteAt(chunks.get(indx)!, off % CHUNK_SIZE));
  }
  return out;
}

/** End of the last visible (non-hole) byte of a chunk. */
export function dataEnd(slices: Slice[]): number {
  return visible(slices).reduce((max, s) => Math.max(max, s.end), 0);
}

// ---------------------------------------------------------------- churn workload

export interface ChurnResult {
  tag: string;
  versions: number[];
  inodes: number[];
  sharedWins: number;
}

/**
 * n concurrent steps against directory `dir`, all in flight at once. Step i, by i % 5:
 * 0 creates `tag-i`; 1 creates `tag-i.tmp` and renames it to `tag-i`; 2 creates and unlinks `tag-i.gone`;
 * 3 makes directory `tag-i.d`; 4 races every client for `shared-i` (exclusive create) and renames its own
 * `tag-i.tmp` over `over-i`. The surviving names depend only on the tags and n: see churnNames().
 */
export async function churn(m: Meta, dir: number, tag: string, n: number, ctx: Context = ROOT): Promise<ChurnResult> {
  const res: ChurnResult = { tag, versions: [], inodes: [], sharedWins: 0 };
  const made = (r: { version: number; inode: number }) => {
    res.versions.push(r.version);
    res.inodes.push(r.inode);
    return r.inode;
  };
  const file = async (name: string) => made(await m.mknod(ctx, dir, name, TYPE_FILE, 0o644));
  const move = async (from: string, to: string) => res.versions.push((await m.rename(ctx, dir, from, dir, to)).version);
  const step = async (i: number) => {
    const name = `${tag}-${i}`;
    switch (i % 5) {
      case 0:
        return void (await file(name));
      case 1:
        await file(`${name}.tmp`);
        return void (await move(`${name}.tmp`, name));
      case 2:
        await file(`${name}.gone`);
        return void res.versions.push((await m.unlink(ctx, dir, `${name}.gone`)).version);
      case 3:
        return void made(await m.mkdir(ctx, dir, `${name}.d`, 0o755));
      default: {
        const won = await file(`shared-${i}`).then(
          () => true,
          (e: { code?: string }) => {
            if (e.code !== 'EEXIST') throw e;
            return false;
          },
        );
        if (won) res.sharedWins++;
        await file(`${name}.tmp`);
        return void (await move(`${name}.tmp`, `over-${i}`));
      }
    }
  };
  await Promise.all(Array.from({ length: n }, (_, i) => step(i)));
  return res;
}

/** The names a directory holds after churn() ran once per tag with the same n. */
export function churnNames(tags: string[], n: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) names.push(`shared-${i}`, `over-${i}`);
    for (const tag of tags) {
      if (i % 5 === 0 || i % 5 === 1) names.push(`${tag}-${i}`);
      if (i % 5 === 3) names.push(`${tag}-${i}.d`);
    }
  }
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Checks the outcome of churn() by several clients: exact names, one winner per race, distinct versions. */
export async function checkChurn(m: Meta, dir: number, results: ChurnResult[], n: number): Promise<void> {
  const names = (await listAll(m, dir, false)).map((e) => e.name);
  assert.deepEqual(names, churnNames(results.map((r) => r.tag), n), 'no lost or extra entry');
  const races = Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 === 4).length;
  assert.equal(results.reduce((s, r) => s + r.sharedWins, 0), races, 'each exclusive create won exactly once');
  const versions = results.flatMap((r) => r.versions);
  assert.equal(new Set(versions).size, versions.length, 'every write got its own version');
  const records = new Map((await readAllChangelog(m)).map((r) => [r.version, r]));
  for (const v of versions) assert.ok(records.has(v), `version ${v} has a changelog record`);
}
