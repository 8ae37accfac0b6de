// Directory quotas (`ferry quota set --path DIR`): every name under a quota'd directory counts one inode
// and its 4 KiB-aligned size there, in two counters changed in the transaction of each change (no walk on
// the write path). Growth past a limit is refused with EDQUOT before anything is written; nested quotas
// each count what is under them. The set of quota'd directories comes from the format record, so a
// volume without quotas has no rule at all and pays nothing.
import { fsErr } from '../../../errors.js';
import { spaceOf } from '../../attrs.js';
import { quotaInodesCounter, quotaSpaceCounter } from '../../quota-names.js';
import { treeUsage, type TreeUsage } from '../../quota-usage.js';
import { TYPE_DIRECTORY, type DirQuota, type Format } from '../../types.js';
import type { Guarded, Rule, Target } from '../guard.js';

/**
 * A directory without a quota of its own moved between quotas is walked in the rename's transaction to
 * know what it takes along; past this many names the rename answers EXDEV instead (as XFS project quotas
 * do), and `mv` copies the tree, charging it as it goes.
 */
export const MOVE_WALK_LIMIT = 10_000;

export function quotasOf(format: Format): Map<number, DirQuota> {
  return new Map(Object.entries(format.quotas ?? {}).map(([ino, q]) => [Number(ino), q]));
}

export function dirQuotaRule(format: Format): Rule | undefined {
  const quotas = quotasOf(format);
  if (!quotas.size) return undefined;

  /** The quota'd directories a name in directory `dir` counts in. */
  const over = async (g: Guarded, dir: number) => (await g.dirChain(dir)).filter((d) => quotas.has(d));

  /** The quota'd directories `at` counts in, each with how many of its names are under it (hard links). */
  async function holders(g: Guarded, at: Target): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const add = async (dir: number, n: number) => {
      for (const q of await over(g, dir)) out.set(q, (out.get(q) ?? 0) + n);
    };
    if (at.parent !== undefined) await add(at.parent, 1);
    else if (at.attr.type === TYPE_DIRECTORY) for (const q of (await g.ancestors(at)).filter((d) => quotas.has(d))) out.set(q, 1);
    else if (at.attr.parent !== 0) await add(at.attr.parent, 1);
    else for (const p of await g.read((tx) => tx.listParents(at.ino))) await add(p.parent, p.count);
    return out;
  }

  /** EDQUOT unless quota `q` has room for `space` more bytes and `inodes` more names. */
  async function admit(g: Guarded, q: number, space: number, inodes: number): Promise<void> {
    const lim = quotas.get(q)!;
    const full = async (limit: number, grow: number, counter: string) =>
      grow > 0 && limit > 0 && (await g.read((tx) => tx.getCounter(counter))) + grow > limit;
    if ((await full(lim.space, space, quotaSpaceCounter(q))) || (await full(lim.inodes, inodes, quotaInodesCounter(q)))) {
      throw fsErr('EDQUOT', `disk quota exceeded: the quota of ${lim.path} is full`);
    }
  }

  const account = (g: Guarded, q: number, space: number, inodes: number) =>
    g.update(async (tx) => {
      if (space) await tx.incrCounter(quotaSpaceCounter(q), space);
      if (inodes) await tx.incrCounter(quotaInodesCounter(q), inodes);
    });

  /** What one name of `t` holds: itself and, for a directory, the tree under it. */
  async function usageOfName(g: Guarded, t: Target): Promise<TreeUsage> {
    const own = { space: spaceOf(t.attr), inodes: 1 };
    if (t.attr.type !== TYPE_DIRECTORY) return own;
    const below = quotas.has(t.ino)
      ? await g.read(async (tx) => ({ space: await tx.getCounter(quotaSpaceCounter(t.ino)), inodes: await tx.getCounter(quotaInodesCounter(t.ino)) }))
      : await treeUsage((fn) => g.read(fn), t.ino, MOVE_WALK_LIMIT);
    if (!below) throw fsErr('EXDEV', `a directory of more than ${MOVE_WALK_LIMIT} entries moves between directory quotas only by copying`);
    return { space: own.space + below.space, inodes: own.inodes + below.inodes };
  }

  return {
    name: 'dir-quota',
    async charge(g, at, space, inodes) {
      const hs = await holders(g, at);
      for (const [q, n] of hs) await admit(g, q, space * n, inodes * n);
      for (const [q, n] of hs) await account(g, q, space * n, inodes * n);
    },
    async free(g, at, space, inodes) {
      for (const [q, n] of await holders(g, at)) await account(g, q, -space * n, -inodes * n);
    },
    async transfer(g, t, from, to) {
      const src = from === undefined ? [] : await over(g, from);
      const dst = to === undefined ? [] : await over(g, to);
      // Quotas above both ends keep what moves within them.
      const leaving = src.filter((q) => !dst.includes(q));
      const entering = dst.filter((q) => !src.includes(q));
      if (!leaving.length && !entering.length) return;
      const u = await usageOfName(g, t);
      for (const q of entering) await admit(g, q, u.space, u.inodes);
      for (const q of leaving) await account(g, q, -u.space, -u.inodes);
      for (const q of entering) await account(g, q, u.space, u.inodes);
    },
  };
}
