// The policy hooks in the meta conformance suite: every modifying operation passes the guard (a rule
// fencing off one directory refuses each of them there and none elsewhere), quota rules are charged with
// the parent chain, and chattr +i/+a, now rules, behave as before. Rules are registered in this process,
// for one volume (by uuid), so they also run inside an in-process metadata service.
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fsErr } from '../../src/errors.js';
import type { Meta } from '../../src/meta/interface.js';
import { registerRule, type GuardOp, type Rule } from '../../src/meta/policy/index.js';
import {
  FALLOC_KEEP_SIZE,
  FALLOC_PUNCH_HOLE,
  FLAG_APPEND,
  FLAG_IMMUTABLE,
  ROOT_INODE,
  SET_FLAGS,
  SET_MODE,
  SET_SIZE,
  TYPE_FIFO,
  TYPE_FILE,
  rootContext,
} from '../../src/meta/types.js';
import { expectCode, listAll } from './meta-invariants.js';

const { O_APPEND, O_RDWR, O_WRONLY } = fsConstants;
const ROOT = rootContext();

const ALL_OPS: GuardOp[] = [
  'mkdir', 'mknod', 'create', 'symlink', 'link', 'unlink', 'rmdir', 'rename', 'setattr',
  'open', 'write', 'truncate', 'fallocate', 'copy', 'setxattr', 'removexattr',
];

/** A fresh volume whose rules include `rule` (registered for this volume only while the block runs). */
function useVolumeWithRule(fresh: () => Promise<Meta>, rule: Rule): { m: Meta } {
  const v = { m: undefined as unknown as Meta };
  let unregister = () => {};
  before(async () => {
    v.m = await fresh();
    const uuid = (await v.m.load()).uuid;
    unregister = registerRule(`test-${rule.name}`, (f) => (f.uuid === uuid ? rule : undefined));
  });
  after(async () => {
    unregister();
    await v.m?.close();
  });
  return v;
}

async function write(m: Meta, ino: number, pos: number, len: number): Promise<void> {
  const id = await m.newSliceId();
  await m.writeSlice(ROOT, ino, 0, pos, { id, size: len, off: 0, len });
}

async function names(m: Meta, dir: number): Promise<string[]> {
  return (await listAll(m, dir, false)).map((e) => e.name);
}

interface Fixture {
  /** The directory the operations work in. */
  w: number;
  /** A file with data and the xattr user.k. */
  f: number;
}

/** Builds under `parent`: w/ holding f (data, xattr), d (empty dir), v (to unlink), m (to move out). */
async function fixture(m: Meta, parent: number): Promise<Fixture> {
  const w = (await m.mkdir(ROOT, parent, 'w', 0o777)).inode;
  const f = (await m.mknod(ROOT, w, 'f', TYPE_FILE, 0o644)).inode;
  await write(m, f, 0, 8192);
  await m.setxattr(ROOT, f, 'user.k', Buffer.from('v'));
  await m.mkdir(ROOT, w, 'd', 0o755);
  await m.mknod(ROOT, w, 'v', TYPE_FILE, 0o644);
  await m.mknod(ROOT, w, 'm', TYPE_FILE, 0o644);
  return { w, f };
}

/** One call of every modifying operation on a fixture; `n` is a neutral directory (other end of moves and links). */
function operations(m: Meta, fx: Fixture, n: { dir: number; src: number; lnk: number }, tag: string): Array<[string, () => Promise<unknown>]> {
  return [
    ['mkdir', () => m.mkdir(ROOT, fx.w, 'new-dir', 0o755)],
    ['create', async () => m.release(ROOT, (await m.create(ROOT, fx.w, 'new-file', 0o644, O_RDWR)).inode)],
    ['mknod', () => m.mknod(ROOT, fx.w, 'fifo', TYPE_FIFO, 0o644)],
    ['symlink', () => m.symlink(ROOT, fx.w, 'sl', 'target')],
    ['link into', () => m.link(ROOT, n.lnk, fx.w, 'hard')],
    ['unlink', () => m.unlink(ROOT, fx.w, 'v')],
    ['rmdir', () => m.rmdir(ROOT, fx.w, 'd')],
    ['rename out', () => m.rename(ROOT, fx.w, 'm', n.dir, `out-${tag}`)],
    ['rename in', () => m.rename(ROOT, n.dir, `in-${tag}`, fx.w, 'in')],
    ['setattr', () => m.setattr(ROOT, fx.f, SET_MODE, { mode: 0o600 })],
    ['open for writing', async () => {
      await m.open(ROOT, fx.f, O_WRONLY);
      await m.release(ROOT, fx.f);
    }],
    ['write', () => write(m, fx.f, 8192, 100)],
    ['truncate', () => m.truncate(ROOT, fx.f, 100)],
    ['fallocate', () => m.fallocate(ROOT, fx.f, 0, 0, 65536)],
    ['copyFileRange into', () => m.copyFileRange(ROOT, n.src, 0, fx.f, 0, 4096)],
    ['setxattr', () => m.setxattr(ROOT, fx.f, 'user.new', Buffer.from('x'))],
    ['removexattr', () => m.removexattr(ROOT, fx.f, 'user.k')],
  ];
}

export function policyConformance(fresh: () => Promise<Meta>): void {
  describe('policy guard', () => {
    // Refuses (EROFS) every target in or under `fenced`, asking for the ancestor chain; records each op.
    let fenced = 0;
    const seen = new Set<string>();
    const fence: Rule = {
      name: 'fence',
      async check(g) {
        seen.add(g.op);
        if (!fenced) return;
        for (const t of g.targets) {
          if (t.role === 'read') continue;
          if (t.ino === fenced || (await g.ancestors(t)).includes(fenced)) throw fsErr('EROFS', 'fenced off');
        }
      },
    };
    const v = useVolumeWithRule(fresh, fence);

    it('every modifying operation under a fenced directory fails with the rule\'s errno and passes elsewhere', async () => {
      const m = v.m;
      const top = (await m.mkdir(ROOT, ROOT_INODE, 'fence', 0o777)).inode;
      const inside = (await m.mkdir(ROOT, top, 'p', 0o777)).inode;
      const outside = (await m.mkdir(ROOT, top, 'o', 0o777)).inode;
      const nd = (await m.mkdir(ROOT, top, 'n', 0o777)).inode;
      const src = (await m.mknod(ROOT, nd, 'src', TYPE_FILE, 0o644)).inode;
      await write(m, src, 0, 8192);
      const lnk = (await m.mknod(ROOT, nd, 'lnk', TYPE_FILE, 0o644)).inode;
      for (const tag of ['in', 'out']) await m.mknod(ROOT, nd, `in-${tag}`, TYPE_FILE, 0o644);
      const n = { dir: nd, src, lnk };
      // Two levels down, so the rule needs the chain, not just the parent.
      const fin = await fixture(m, inside);
      const fout = await fixture(m, outside);

      fenced = inside;
      seen.clear();
      const before = { names: await names(m, fin.w), attr: await m.getattr(ROOT, fin.f), version: await m.currentVersion() };
      for (const [what, call] of operations(m, fin, n, 'in')) {
        await expectCode(call(), 'EROFS').catch((e: Error) => assert.fail(`${what}: ${e.message}`));
      }
      assert.deepEqual([...seen].sort(), [...ALL_OPS].sort(), 'the rule was asked for every operation');
      assert.equal(await m.currentVersion(), before.version, 'nothing was committed');
      assert.deepEqual(await names(m, fin.w), before.names);
      assert.deepEqual(await m.getattr(ROOT, fin.f), before.attr);
      assert.deepEqual(await m.listxattr(ROOT, fin.f), ['user.k']);

      for (const [what, call] of operations(m, fout, n, 'out')) {
        await call().catch((e: Error) => assert.fail(`${what} outside the fence: ${e.message}`));
      }
      assert.deepEqual(await names(m, fout.w), ['f', 'fifo', 'hard', 'in', 'new-dir', 'new-file', 'sl']);
      // Reading a fenced file into one outside is not a change of the fenced one.
      await m.copyFileRange(ROOT, fin.f, 0, fout.f, 0, 4096);
      fenced = 0;
    });

    it('a file with several links is under every directory holding one of its names', async () => {
      const m = v.m;
      const top = (await m.mkdir(ROOT, ROOT_INODE, 'links', 0o777)).inode;
      const inside = (await m.mkdir(ROOT, top, 'p', 0o777)).inode;
      const deep = (await m.mkdir(ROOT, inside, 'deep', 0o777)).inode;
      const outside = (await m.mkdir(ROOT, top, 'o', 0o777)).inode;
      const h = (await m.mknod(ROOT, outside, 'h', TYPE_FILE, 0o644)).inode;
      await m.link(ROOT, h, deep, 'h2');
      fenced = inside;
      await expectCode(m.setattr(ROOT, h, SET_MODE, { mode: 0o600 }), 'EROFS');
      await expectCode(write(m, h, 0, 10), 'EROFS');
      // Removing the name outside changes the directory outside only.
      await m.unlink(ROOT, outside, 'h');
      await expectCode(m.unlink(ROOT, deep, 'h2'), 'EROFS');
      fenced = 0;
      await m.unlink(ROOT, deep, 'h2');
    });
  });

  describe('policy quota hook', () => {
    // Records each charge with its chain; refuses (EDQUOT) more than 8 KiB at once under `limited`.
    let limited = 0;
    const charges: Array<{ op: string; ino: number; space: number; inodes: number; chain: number[] }> = [];
    const dirQuota: Rule = {
      name: 'dir-quota',
      async charge(g, at, space, inodes) {
        const chain = await g.ancestors(at);
        charges.push({ op: g.op, ino: at.ino, space, inodes, chain });
        if (limited && chain.includes(limited) && space > 8192) throw fsErr('EDQUOT');
      },
    };
    const v = useVolumeWithRule(fresh, dirQuota);

    it('is charged with the target and its parent chain for every growth', async () => {
      const m = v.m;
      const t = (await m.mkdir(ROOT, ROOT_INODE, 'q', 0o777)).inode;
      const a = (await m.mkdir(ROOT, t, 'a', 0o777)).inode;
      const b = (await m.mkdir(ROOT, a, 'b', 0o777)).inode;
      charges.length = 0;
      const f = (await m.create(ROOT, b, 'f', 0o644, O_RDWR)).inode;
      await m.release(ROOT, f);
      const d = (await m.mkdir(ROOT, b, 'd', 0o755)).inode;
      await write(m, f, 0, 5000);
      await m.truncate(ROOT, f, 20000);
      await m.fallocate(ROOT, f, 0, 0, 30000);
      await m.setattr(ROOT, f, SET_SIZE, { length: 40000 });
      const chain = [b, a, t, ROOT_INODE];
      assert.deepEqual(charges, [
        { op: 'create', ino: f, space: 0, inodes: 1, chain },
        { op: 'mkdir', ino: d, space: 4096, inodes: 1, chain },
        { op: 'write', ino: f, space: 8192, inodes: 0, chain },
        { op: 'truncate', ino: f, space: 12288, inodes: 0, chain },
        { op: 'fallocate', ino: f, space: 12288, inodes: 0, chain },
        { op: 'setattr', ino: f, space: 8192, inodes: 0, chain },
      ]);
      charges.length = 0;
      const g = (await m.mknod(ROOT, t, 'g', TYPE_FILE, 0o644)).inode;
      await m.copyFileRange(ROOT, f, 0, g, 0, 10000);
      assert.deepEqual(charges.map((c) => [c.op, c.ino, c.chain]), [
        ['create', g, [t, ROOT_INODE]],
        ['copy', g, [t, ROOT_INODE]],
      ]);
    });

    it('a directory quota plugged in as a rule refuses growth under its directory only', async () => {
      const m = v.m;
      const t = (await m.mkdir(ROOT, ROOT_INODE, 'dq', 0o777)).inode;
      const a = (await m.mkdir(ROOT, t, 'a', 0o777)).inode;
      const b = (await m.mkdir(ROOT, a, 'b', 0o777)).inode;
      const f = (await m.mknod(ROOT, b, 'f', TYPE_FILE, 0o644)).inode;
      const g = (await m.mknod(ROOT, t, 'g', TYPE_FILE, 0o644)).inode;
      await write(m, g, 0, 65536);
      limited = a;
      await write(m, f, 0, 4096);
      await expectCode(write(m, f, 4096, 65536), 'EDQUOT');
      await expectCode(m.truncate(ROOT, f, 1 << 20), 'EDQUOT');
      await expectCode(m.setattr(ROOT, f, SET_SIZE, { length: 1 << 20 }), 'EDQUOT');
      await expectCode(m.fallocate(ROOT, f, 0, 0, 1 << 20), 'EDQUOT');
      await expectCode(m.copyFileRange(ROOT, g, 0, f, 4096, 65536), 'EDQUOT');
      assert.equal((await m.getattr(ROOT, f)).length, 4096);
      const h = (await m.mknod(ROOT, t, 'h', TYPE_FILE, 0o644)).inode;
      await m.copyFileRange(ROOT, g, 0, h, 0, 65536);
      await m.truncate(ROOT, h, 1 << 20);
      limited = 0;
    });
  });

  describe('chattr rules', () => {
    const v = { m: undefined as unknown as Meta };
    before(async () => (v.m = await fresh()));
    after(() => v.m?.close());

    it('an immutable file is not changed, moved, linked or removed until root clears the flag', async () => {
      const m = v.m;
      const d = (await m.mkdir(ROOT, ROOT_INODE, 'imm', 0o777)).inode;
      const f = (await m.mknod(ROOT, d, 'f', TYPE_FILE, 0o644)).inode;
      await write(m, f, 0, 100);
      await m.setattr(ROOT, f, SET_FLAGS, { flags: FLAG_IMMUTABLE });
      await expectCode(m.unlink(ROOT, d, 'f'), 'EPERM');
      await expectCode(m.rename(ROOT, d, 'f', d, 'g'), 'EPERM');
      await expectCode(m.link(ROOT, f, d, 'g'), 'EPERM');
      await expectCode(m.setattr(ROOT, f, SET_MODE, { mode: 0o600 }), 'EPERM');
      await expectCode(m.truncate(ROOT, f, 0), 'EPERM');
      await expectCode(m.fallocate(ROOT, f, 0, 0, 4096), 'EPERM');
      await expectCode(m.open(ROOT, f, O_WRONLY), 'EPERM');
      await m.open(ROOT, f, 0);
      await m.release(ROOT, f);
      await m.setattr(ROOT, f, SET_FLAGS, { flags: 0 });
      await m.rename(ROOT, d, 'f', d, 'g');
    });

    it('an append-only file only grows at its end; no entry changes in a flagged directory', async () => {
      const m = v.m;
      const d = (await m.mkdir(ROOT, ROOT_INODE, 'app', 0o777)).inode;
      const f = (await m.mknod(ROOT, d, 'f', TYPE_FILE, 0o644)).inode;
      await m.setattr(ROOT, f, SET_FLAGS, { flags: FLAG_APPEND });
      await expectCode(m.open(ROOT, f, O_WRONLY), 'EPERM');
      await m.open(ROOT, f, O_WRONLY | O_APPEND);
      await m.release(ROOT, f);
      await write(m, f, 0, 100);
      await m.fallocate(ROOT, f, 0, 0, 8192);
      await expectCode(m.fallocate(ROOT, f, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, 0, 10), 'EPERM');
      await expectCode(m.truncate(ROOT, f, 0), 'EPERM');
      await expectCode(m.setattr(ROOT, f, SET_SIZE, { length: 0 }), 'EPERM');
      await expectCode(m.unlink(ROOT, d, 'f'), 'EPERM');
      await m.setattr(ROOT, d, SET_FLAGS, { flags: FLAG_IMMUTABLE });
      await expectCode(m.mknod(ROOT, d, 'g', TYPE_FILE, 0o644), 'EPERM');
      await expectCode(m.mkdir(ROOT, d, 'g', 0o755), 'EPERM');
      await m.setattr(ROOT, d, SET_FLAGS, { flags: FLAG_APPEND });
      await expectCode(m.symlink(ROOT, d, 'g', 'x'), 'EPERM');
      await m.setattr(ROOT, d, SET_FLAGS, { flags: 0 });
      await m.setattr(ROOT, f, SET_FLAGS, { flags: 0 });
      await m.unlink(ROOT, d, 'f');
    });
  });
}
