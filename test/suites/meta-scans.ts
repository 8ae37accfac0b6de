// The scans section of the meta conformance suite (meta-suite.ts runs it on every engine): paging,
// cursors, results equal to what getattr/readdir/readChunk say, and a snapshot taken under writes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openMeta } from '../../src/meta/index.js';
import type { Meta } from '../../src/meta/interface.js';
import { SCAN_KINDS, type ScanKind, type ScanRows } from '../../src/meta/scan.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, rootContext, type Slice } from '../../src/meta/types.js';
import { expectCode, readAllChangelog, walk } from './meta-invariants.js';

const ROOT = rootContext();

async function all<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

/** A row's key, as the engine orders it (names bytewise). */
function keyOf(kind: ScanKind, r: any): Array<number | string> {
  switch (kind) {
    case 'inodes':
    case 'symlinks':
      return [r.ino];
    case 'entries':
      return [r.parent, r.name];
    case 'chunks':
      return [r.ino, r.indx];
    case 'sliceRefs':
      return [r.id];
    case 'xattrs':
      return [r.ino, r.name];
    case 'parents':
      return [r.ino, r.parent];
  }
}

function cmpKey(a: Array<number | string>, b: Array<number | string>): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const c = typeof x === 'number' ? x - (y as number) : Buffer.compare(Buffer.from(x), Buffer.from(y as string));
    if (c) return c;
  }
  return 0;
}

/**
 * Every row of a kind, walked page by page with scanPage. Checks what holds on every engine (pages within
 * the limit, resumable), and on ordered engines that keys strictly increase (no row twice, none skipped by
 * a cursor). Returns the rows sorted by key with duplicates (Redis SCAN may repeat) removed.
 */
async function walkPages<K extends ScanKind>(m: Meta, kind: K, limit: number): Promise<Array<ScanRows[K]>> {
  const ordered = m.engine !== 'redis';
  const rows: Array<ScanRows[K]> = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 100_000, 'the walk ends');
    const page = await m.scanPage(kind, cursor, limit);
    assert.ok(page.rows.length <= limit, `${kind}: a page holds at most ${limit} rows (got ${page.rows.length})`);
    rows.push(...page.rows);
    if (page.next === undefined) break;
    assert.equal(typeof page.next, 'string');
    cursor = page.next;
  }
  if (ordered) {
    for (let i = 1; i < rows.length; i++) {
      assert.ok(cmpKey(keyOf(kind, rows[i - 1]), keyOf(kind, rows[i])) < 0, `${kind}: keys increase across pages (limit ${limit})`);
    }
    return rows;
  }
  const byKey = new Map<string, ScanRows[K]>();
  for (const r of rows) byKey.set(JSON.stringify(keyOf(kind, r)), r);
  return [...byKey.values()].sort((a, b) => cmpKey(keyOf(kind, a), keyOf(kind, b)));
}

/** Every table of a volume through the scans, comparable across volumes (slice refs are not replicated). */
async function dump(m: Meta): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const kind of SCAN_KINDS) {
    if (kind === 'sliceRefs') continue;
    out[kind] = (await walkPages(m, kind, 1000)).map((r) => ('value' in r ? { ...r, value: r.value.toString('base64') } : r));
  }
  out.counters = [await m.getCounter('usedSpace'), await m.getCounter('totalInodes')];
  return out;
}

export function scanConformance(newUrl: () => Promise<string>, freshMeta: (url: string) => Promise<Meta>): void {
  describe('scans', () => {
    let m: Meta;
    let url: string;
    before(async () => {
      url = await newUrl();
      m = await freshMeta(url);
    });
    after(() => m?.close());

    async function write(ino: number, indx: number, pos: number, len: number): Promise<number> {
      const id = await m.newSliceId();
      await m.writeSlice(ROOT, ino, indx, pos, { id, size: len, off: 0, len });
      return id;
    }

    it('an empty volume holds the root inode and nothing else', async () => {
      const inodes = await all(m.scanInodes());
      assert.deepEqual(inodes, [{ ino: ROOT_INODE, attr: await m.getattr(ROOT, ROOT_INODE) }]);
      for (const kind of SCAN_KINDS.filter((k) => k !== 'inodes')) assert.deepEqual(await walkPages(m, kind, 3), [], `no ${kind}`);
    });

    it('inodes and entries of many directories, across page boundaries, equal getattr and readdir', async () => {
      for (let d = 0; d < 6; d++) {
        const dir = (await m.mkdir(ROOT, ROOT_INODE, `d${d}`, 0o755)).inode;
        for (let f = 0; f < 17 + d; f++) await m.mknod(ROOT, dir, `f${f}-${'é'.repeat(f % 3)}`, TYPE_FILE, 0o644);
        await m.mkdir(ROOT, dir, 'sub', 0o700);
      }
      const nodes = await walk(m);
      const entries = nodes
        .map((n) => ({ parent: n.parent, name: n.path.slice(n.path.lastIndexOf('/') + 1), ino: n.inode, type: n.attr.type }))
        .sort((a, b) => cmpKey([a.parent, a.name], [b.parent, b.name]));
      const inodes = [{ ino: ROOT_INODE, attr: await m.getattr(ROOT, ROOT_INODE) }];
      for (const ino of new Set(nodes.map((n) => n.inode))) inodes.push({ ino, attr: await m.getattr(ROOT, ino) });
      inodes.sort((a, b) => a.ino - b.ino);
      for (const limit of [1, 7, 20, 1000]) {
        assert.deepEqual(await walkPages(m, 'entries', limit), entries, `entries, ${limit} a page`);
        assert.deepEqual(await walkPages(m, 'inodes', limit), inodes, `inodes, ${limit} a page`);
      }
      const gen = await all(m.scanEntries({ batch: 5 }));
      assert.equal(new Set(gen.map((e) => `${e.parent}/${e.name}`)).size, entries.length, 'the generator yields every entry');
    });

    it('a cursor resumes a walk where a page ended', async () => {
      const first = await m.scanPage('inodes', undefined, 4);
      assert.ok(first.next !== undefined);
      const rest = await all(m.scanInodes({ from: first.next, batch: 3 }));
      const seen = new Set([...first.rows, ...rest].map((r) => r.ino));
      const every = new Set((await all(m.scanInodes())).map((r) => r.ino));
      assert.deepEqual([...seen].sort((a, b) => a - b), [...every].sort((a, b) => a - b));
    });

    it('chunks of many files equal readChunk; slice refs count every use, after copyFileRange too', async () => {
      const dir = (await m.mkdir(ROOT, ROOT_INODE, 'data', 0o755)).inode;
      const files: number[] = [];
      for (let i = 0; i < 12; i++) {
        const f = (await m.mknod(ROOT, dir, `f${i}`, TYPE_FILE, 0o644)).inode;
        files.push(f);
        for (let indx = 0; indx < 1 + (i % 3); indx++) {
          await write(f, indx, 0, 1000 + i);
          await write(f, indx, 500, 100);
        }
      }
      await m.copyFileRange(ROOT, files[0]!, 0, files[1]!, 200, 900);
      await m.copyFileRange(ROOT, files[2]!, 0, files[3]!, 0, 64 << 20);
      await m.truncate(ROOT, files[4]!, 10);
      const expected: Array<{ ino: number; indx: number; slices: Slice[] }> = [];
      const refs = new Map<number, { size: number; refs: number }>();
      for (const f of files) {
        const length = (await m.getattr(ROOT, f)).length;
        for (let indx = 0; indx * (64 << 20) < length; indx++) {
          const slices = await m.readChunk(ROOT, f, indx);
          if (!slices.length) continue;
          expected.push({ ino: f, indx, slices });
          for (const s of slices) {
            if (!s.id) continue;
            const r = refs.get(s.id) ?? { size: s.size, refs: 0 };
            r.refs++;
            refs.set(s.id, r);
          }
        }
      }
      for (const limit of [1, 5, 1000]) assert.deepEqual(await walkPages(m, 'chunks', limit), expected, `chunks, ${limit} a page`);
      const shared = [...refs.values()].filter((r) => r.refs > 1).length;
      assert.ok(shared >= 2, 'copyFileRange shares slices');
      const wantRefs = [...refs].map(([id, r]) => ({ id, size: r.size, refs: r.refs })).sort((a, b) => a.id - b.id);
      for (const limit of [1, 4, 1000]) assert.deepEqual(await walkPages(m, 'sliceRefs', limit), wantRefs, `slice refs, ${limit} a page`);
    });

    it('symlinks, xattrs and the hard-link table', async () => {
      const a = (await m.mkdir(ROOT, ROOT_INODE, 'la', 0o755)).inode;
      const b = (await m.mkdir(ROOT, ROOT_INODE, 'lb', 0o755)).inode;
      const f = (await m.mknod(ROOT, a, 'f', TYPE_FILE, 0o644)).inode;
      await m.link(ROOT, f, b, 'f1');
      await m.link(ROOT, f, b, 'f2');
      const links = [
        { ino: f, parent: a, count: 1 },
        { ino: f, parent: b, count: 2 },
      ];
      assert.deepEqual(await walkPages(m, 'parents', 1), links);
      const syms: Array<{ ino: number; target: string }> = [];
      for (let i = 0; i < 5; i++) syms.push({ ino: (await m.symlink(ROOT, a, `s${i}`, `target/${i}/${'x'.repeat(i * 50)}`)).inode, target: `target/${i}/${'x'.repeat(i * 50)}` });
      for (const s of syms) assert.equal(await m.readlink(ROOT, s.ino), s.target);
      assert.deepEqual(await walkPages(m, 'symlinks', 2), syms);
      const xs: Array<{ ino: number; name: string; value: Buffer }> = [];
      for (const ino of [f, a, syms[0]!.ino]) {
        for (const name of ['user.b', 'user.a', 'user.c\u00e9']) {
          const value = Buffer.from(`${ino}:${name}`);
          await m.setxattr(ROOT, ino, name, value);
          xs.push({ ino, name, value });
        }
      }
      await m.removexattr(ROOT, a, 'user.b');
      const want = xs.filter((x) => !(x.ino === a && x.name === 'user.b')).sort((p, q) => cmpKey([p.ino, p.name], [q.ino, q.name]));
      for (const x of want) assert.deepEqual(await m.getxattr(ROOT, x.ino, x.name), x.value);
      for (const limit of [1, 2, 1000]) assert.deepEqual(await walkPages(m, 'xattrs', limit), want, `xattrs, ${limit} a page`);
    });

    it('an unknown scan is EINVAL', async () => {
      await expectCode(m.scanPage('nope' as ScanKind, undefined, 10), 'EINVAL');
    });

    it('a snapshot taken while files change is exactly the volume at its version', async () => {
      const dir = (await m.mkdir(ROOT, ROOT_INODE, 'busy', 0o755)).inode;
      const other = (await m.mkdir(ROOT, ROOT_INODE, 'busy2', 0o755)).inode;
      const log = (await m.mknod(ROOT, dir, 'log', TYPE_FILE, 0o644)).inode;
      const big = (await m.mknod(ROOT, dir, 'big', TYPE_FILE, 0o644)).inode;
      const before = await m.currentVersion();
      let stop = false;
      let steps = 0;
      // Appends (deltas on a chunk), hard links (deltas on the link table) and plain sets, all the walk long.
      const writer = (async () => {
        for (let i = 0; !stop; i++, steps++) {
          await write(log, 0, i * 10, 10);
          await write(big, i % 2, 0, 5);
          await m.link(ROOT, log, other, `l${i}`);
          if (i % 2) await m.unlink(ROOT, other, `l${i - 1}`);
          await m.setxattr(ROOT, log, 'user.i', Buffer.from(String(i)));
          const t = await m.mknod(ROOT, dir, `t${i}`, TYPE_FILE, 0o644);
          if (i % 3 === 0) await m.unlink(ROOT, dir, `t${i}`);
          else await write(t.inode, 0, 0, 7);
        }
      })().catch((e) => {
        stop = true;
        throw e;
      });
      // Under way before the walk starts (a remote engine walks in one call, which may not interleave).
      while (steps < 2 && !stop) await new Promise((r) => setTimeout(r, 5));
      let snap;
      try {
        snap = await m.exportSnapshot({ batch: 2 });
      } finally {
        stop = true;
        await writer;
      }
      assert.ok(snap.version > before, 'the snapshot includes the writes');
      const copy = await openMeta(await newUrl());
      try {
        await copy.init(await m.load());
        await copy.importSnapshot(snap);
        assert.equal(await copy.currentVersion(), snap.version);
        for (const rec of await readAllChangelog(m, snap.version)) await copy.applyChangeRecord(rec);
        assert.deepEqual(await dump(copy), await dump(m));
        const dirs = (await walk(copy)).filter((n) => n.attr.type === TYPE_DIRECTORY).length;
        assert.equal(dirs, (await walk(m)).filter((n) => n.attr.type === TYPE_DIRECTORY).length);
      } finally {
        await copy.close();
      }
    });
  });
}
