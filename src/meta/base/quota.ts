// Directory quotas as an operator sets and reads them (`ferry quota`), and statfs under a quota. The limits
// live in the format record's `quotas` section by directory inode (so a quota follows its directory through
// renames); the usage in two counters per directory that the dir-quota rule (policy/rules/dir-quota.ts)
// changes in the transaction of every change under it. The path `/` names the volume-wide capacity and
// inode limit (the format's `capacity` and `inodes`, counted by usedSpace and totalInodes).
import { fsErr } from '../../errors.js';
import { spaceOf } from '../attrs.js';
import { quotaInodesCounter, quotaSpaceCounter } from '../quota-names.js';
import { treeUsage, type TreeUsage } from '../quota-usage.js';
import { isTrashDir } from '../trash-names.js';
import type { Tx } from '../tx.js';
import {
  ROOT_INODE,
  TYPE_DIRECTORY,
  type Context,
  type DirQuota,
  type Format,
  type QuotaCheck,
  type QuotaInfo,
  type QuotaLimits,
  type StatFs,
} from '../types.js';
import { CloneOps } from './clone.js';

const PAGE = 1000;

function checkLimit(what: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw fsErr('EINVAL', `${what} must be a whole number >= 0, not ${v}`);
}

export class QuotaOps extends CloneOps {
  /** The directory a quota path names: its inode (ROOT_INODE for `/`) and the path in normal form. */
  private async quotaDir(ctx: Context, path: string): Promise<{ ino: number; path: string }> {
    if (!path.startsWith('/')) throw fsErr('EINVAL', `quota path '${path}' must be absolute (start with /)`);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw fsErr('EINVAL', `quota path '${path}' must not contain '..'`);
    const norm = '/' + parts.join('/');
    const r = await this.resolve(ctx, ROOT_INODE, norm).catch((e) => {
      throw e?.code === 'ENOENT' ? fsErr('ENOENT', `${norm}: no such directory`) : e;
    });
    if (r.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR', `${norm} is not a directory`);
    if (isTrashDir(r.inode)) throw fsErr('EPERM', `${norm} is in the trash: it takes no quota`);
    return { ino: r.inode, path: norm };
  }

  private async usageOf(ino: number): Promise<TreeUsage> {
    return this.eng.read(async (tx) =>
      ino === ROOT_INODE
        ? { space: await tx.getCounter('usedSpace'), inodes: await tx.getCounter('totalInodes') }
        : { space: await tx.getCounter(quotaSpaceCounter(ino)), inodes: await tx.getCounter(quotaInodesCounter(ino)) },
    );
  }

  private async info(f: Format, ino: number, path: string): Promise<QuotaInfo> {
    const lim = ino === ROOT_INODE ? { space: f.capacity, inodes: f.inodes } : f.quotas?.[ino];
    const used = await this.usageOf(ino);
    return { path, inode: ino, capacity: lim?.space ?? 0, inodes: lim?.inodes ?? 0, usedSpace: used.space, usedInodes: used.inodes };
  }

  /**
   * Sets (or changes) the quota of a directory; `/` sets the volume's capacity and inode limit. A new
   * directory quota starts from a walk of the tree: changes made during the walk may be missed or counted
   * twice (`quotaCheck` with repair sets it right), as in JuiceFS.
   */
  async quotaSet(ctx: Context, path: string, limits: QuotaLimits): Promise<QuotaInfo> {
    checkLimit('the capacity', limits.capacity);
    checkLimit('the inode limit', limits.inodes);
    if (limits.capacity === undefined && limits.inodes === undefined) throw fsErr('EINVAL', 'give a capacity, an inode limit or both');
    const d = await this.quotaDir(ctx, path);
    if (d.ino === ROOT_INODE) {
      const f = await this.updateFormat((old) => ({ capacity: limits.capacity ?? old.capacity, inodes: limits.inodes ?? old.inodes }));
      return this.info(f, ROOT_INODE, '/');
    }
    let fresh = false;
    const f = await this.updateFormat((old) => {
      const was = old.quotas?.[d.ino];
      fresh = !was;
      const q: DirQuota = { path: d.path, space: limits.capacity ?? was?.space ?? 0, inodes: limits.inodes ?? was?.inodes ?? 0 };
      return { quotas: { ...old.quotas, [d.ino]: q } };
    });
    // From the commit above this client counts every change under the directory; start from what is there.
    if (fresh) await this.setUsage(d.ino, await treeUsage((fn) => this.eng.read(fn), d.ino));
    return this.info(f, d.ino, d.path);
  }

  private async setUsage(ino: number, u: TreeUsage | undefined): Promise<void> {
    if (!u) return;
    await this.change('quota', async (tx) => {
      await tx.setCounter(quotaSpaceCounter(ino), u.space);
      await tx.setCounter(quotaInodesCounter(ino), u.inodes);
      return {};
    });
  }

  async quotaGet(ctx: Context, path: string): Promise<QuotaInfo> {
    const d = await this.quotaDir(ctx, path);
    const f = await this.load();
    if (d.ino !== ROOT_INODE && !f.quotas?.[d.ino]) throw fsErr('ENOENT', `${d.path} has no quota`);
    return this.info(f, d.ino, d.path);
  }

  /** Every quota: `/` first when the volume has limits, then each directory's under its path now. */
  async quotaList(): Promise<QuotaInfo[]> {
    const f = await this.load();
    const out: QuotaInfo[] = [];
    if (f.capacity > 0 || f.inodes > 0) out.push(await this.info(f, ROOT_INODE, '/'));
    for (const ino of Object.keys(f.quotas ?? {}).map(Number)) out.push(await this.info(f, ino, await this.pathOf(ino, f.quotas![ino]!.path)));
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Removes a quota (`/`: the volume's limits). */
  async quotaDelete(ctx: Context, path: string): Promise<void> {
    const d = await this.quotaDir(ctx, path);
    if (d.ino === ROOT_INODE) {
      await this.updateFormat({ capacity: 0, inodes: 0 });
      return;
    }
    if (!(await this.load()).quotas?.[d.ino]) throw fsErr('ENOENT', `${d.path} has no quota`);
    await this.dropQuota(d.ino);
  }

  private async dropQuota(ino: number): Promise<void> {
    await this.updateFormat((old) => {
      const { [ino]: _gone, ...rest } = old.quotas ?? {};
      return { quotas: rest };
    });
    await this.setUsage(ino, { space: 0, inodes: 0 });
  }

  /**
   * Recounts each quota (or the one of `path`) by a walk and, with repair, sets its usage to what the walk
   * found. `/` is recounted from a scan of every inode. The walk is not one transaction: on a volume in
   * use, changes made during it show as drift (run it again). Quotas of directories that were deleted are
   * reported, and dropped with repair.
   */
  async quotaCheck(ctx: Context, opts: { path?: string; repair?: boolean } = {}): Promise<QuotaCheck[]> {
    const f = await this.load();
    const todo: Array<{ ino: number; path: string }> = [];
    if (opts.path !== undefined) {
      const d = await this.quotaDir(ctx, opts.path);
      if (d.ino !== ROOT_INODE && !f.quotas?.[d.ino]) throw fsErr('ENOENT', `${d.path} has no quota`);
      todo.push(d);
    } else {
      todo.push({ ino: ROOT_INODE, path: '/' });
      for (const ino of Object.keys(f.quotas ?? {}).map(Number)) todo.push({ ino, path: await this.pathOf(ino, f.quotas![ino]!.path) });
    }
    const out: QuotaCheck[] = [];
    for (const d of todo) {
      const alive = d.ino === ROOT_INODE || (await this.eng.read((tx) => tx.getAttr(d.ino)))?.type === TYPE_DIRECTORY;
      const info = await this.info(f, d.ino, d.path);
      const walked = !alive ? { space: 0, inodes: 0 } : d.ino === ROOT_INODE ? await this.volumeUsage() : (await treeUsage((fn) => this.eng.read(fn), d.ino))!;
      const drift = walked.space !== info.usedSpace || walked.inodes !== info.usedInodes;
      const repaired = opts.repair === true && (drift || !alive);
      if (repaired && !alive) await this.dropQuota(d.ino);
      else if (repaired && d.ino === ROOT_INODE) {
        await this.change('quota', async (tx) => {
          await tx.setCounter('usedSpace', walked.space);
          await tx.setCounter('totalInodes', walked.inodes);
          return {};
        });
      } else if (repaired) await this.setUsage(d.ino, walked);
      out.push({ ...info, walkedSpace: walked.space, walkedInodes: walked.inodes, repaired });
    }
    return out;
  }

  /** What usedSpace and totalInodes count: every inode but the trash's own directories. */
  private async volumeUsage(): Promise<TreeUsage> {
    const u = { space: 0, inodes: 0 };
    for await (const r of this.scanInodes({ batch: PAGE })) {
      if (isTrashDir(r.ino)) continue;
      u.inodes++;
      u.space += spaceOf(r.attr);
    }
    return u;
  }

  /** Where directory `ino` is now (`?INO (deleted)` when it is gone, `(in the trash)` when it is there). */
  private async pathOf(ino: number, was: string): Promise<string> {
    // Usually still where its quota was set: a lookup per component, where finding each name from below
    // means listing its parent's entries (quotaList pays it per quota, the dashboard at every refresh).
    const parts = was.split('/').filter(Boolean);
    if (parts.length && (await this.eng.read((tx) => this.resolveNames(tx, parts))) === ino) return '/' + parts.join('/');
    const names: string[] = [];
    for (let d = ino, depth = 0; d !== ROOT_INODE; depth++) {
      const a = await this.eng.read((tx) => tx.getAttr(d));
      if (!a || a.type !== TYPE_DIRECTORY || depth > 4096) return `${was} (deleted)`;
      if (isTrashDir(a.parent)) return `${was} (in the trash)`;
      const name = await this.nameIn(a.parent, d);
      if (name === undefined) return `${was} (deleted)`;
      names.unshift(name);
      d = a.parent;
    }
    return '/' + names.join('/');
  }

  private async resolveNames(tx: Tx, parts: string[]): Promise<number | undefined> {
    let d = ROOT_INODE;
    for (const name of parts) {
      const e = await tx.getEntry(d, name);
      if (!e || e.type !== TYPE_DIRECTORY) return undefined;
      d = e.inode;
    }
    return d;
  }

  private async nameIn(parent: number, ino: number): Promise<string | undefined> {
    for (let after: string | undefined; ; ) {
      const page = await this.eng.read((tx) => tx.listEntries(parent, after, PAGE, false));
      const hit = page.find((e) => e.inode === ino);
      if (hit) return hit.name;
      if (page.length < PAGE) return undefined;
      after = page[page.length - 1]!.name;
    }
  }

  /**
   * The bytes file `ino` may still grow by before a directory quota above it is full (the tightest one,
   * each name of a hard link counting): undefined when no capacity quota is above it. Read by clients at
   * write() to answer EDQUOT before any block is uploaded; the commit checks again.
   */
  async quotaRoom(_ctx: Context, ino: number): Promise<number | undefined> {
    const quotas = (this.fmt ?? (await this.load())).quotas;
    if (!quotas || !Object.values(quotas).some((q) => q.space > 0)) return undefined;
    return this.eng.read(async (tx) => {
      const a = await tx.getAttr(ino);
      if (!a) return undefined;
      const dirs = a.type === TYPE_DIRECTORY ? [{ parent: ino, count: 1 }] : a.parent ? [{ parent: a.parent, count: 1 }] : await tx.listParents(ino);
      const times = new Map<number, number>();
      for (const { parent, count } of dirs) {
        for (let d = parent, depth = 0; d && d !== ROOT_INODE && depth < 4096; depth++) {
          if (quotas[d] && quotas[d]!.space > 0) times.set(d, (times.get(d) ?? 0) + count);
          const da = await tx.getAttr(d);
          if (!da) break;
          d = da.parent;
        }
      }
      let room: number | undefined;
      for (const [d, n] of times) {
        const left = Math.floor(Math.max(0, quotas[d]!.space - (await tx.getCounter(quotaSpaceCounter(d)))) / n);
        room = room === undefined ? left : Math.min(room, left);
      }
      return room;
    });
  }

  /**
   * Under a directory quota (the nearest quota'd directory at or above `ino`), the quota is the size and
   * its room the free space (so `df` in a volume given to one team shows its share), never more than the
   * volume has free; a limit not set falls back to the volume's figure.
   */
  override async statfs(ctx: Context, ino = ROOT_INODE): Promise<StatFs> {
    const vol = await super.statfs(ctx, ino);
    const quotas = (this.fmt ?? (await this.load())).quotas;
    if (ino === ROOT_INODE || !quotas || !Object.keys(quotas).length) return vol;
    const q = await this.eng.read(async (tx) => {
      let d = ino;
      const first = await tx.getAttr(d);
      if (!first) return undefined;
      if (first.type !== TYPE_DIRECTORY) d = first.parent;
      for (let depth = 0; d && d !== ROOT_INODE && depth < 4096; depth++) {
        if (quotas[d]) return { ino: d, lim: quotas[d]!, space: await tx.getCounter(quotaSpaceCounter(d)), inodes: await tx.getCounter(quotaInodesCounter(d)) };
        const a = await tx.getAttr(d);
        if (!a) return undefined;
        d = a.parent;
      }
      return undefined;
    });
    if (!q) return vol;
    const out = { ...vol };
    if (q.lim.space > 0) {
      out.totalSpace = q.lim.space;
      out.usedSpace = q.space;
      out.availSpace = Math.max(0, Math.min(q.lim.space - q.space, vol.availSpace));
    }
    if (q.lim.inodes > 0) {
      out.usedInodes = q.inodes;
      out.availInodes = Math.max(0, Math.min(q.lim.inodes - q.inodes, vol.availInodes));
    }
    return out;
  }
}
