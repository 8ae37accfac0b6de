// TTL expiry (`ferry ttl`): rules in the format record name directories whose regular files go to the trash
// `days` after their mtime. The index the rules keep (policy/rules/ttl.ts) is read oldest first, rule by
// rule, up to the cut-off: each row read is an expired file or a stale row (the file was deleted, moved
// out, rewritten since, or belongs to a nearer rule now), which is dropped or refiled. No tree is walked
// by the job; `ttl set` walks the directory once to file what is already there.
import { FsError, fsErr } from '../../errors.js';
import { stamp, touch } from '../attrs.js';
import { readFormat } from '../format.js';
import { nearestTtlRule, ttlRulesByDir } from '../policy/rules/ttl.js';
import { isTrashDir } from '../trash-names.js';
import type { Tx } from '../tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, rootContext, type Attr, type TtlIndexRow, type TtlRule, type TtlRunResult } from '../types.js';
import { QuotaOps } from './quota.js';

const DAY_S = 86_400;
/** Rows handled per transaction (one read of a page, one transaction for it). */
const EXPIRE_BATCH = 100;
/** Rows written per transaction when `ttl set` files what is already in a tree. */
const INDEX_BATCH = 500;
const PAGE = 1000;
const LEASE_COUNTER = 'ttlExpiryLease';
const LEASE_MS = 10 * 60_000;

/** `/a/b` for `a/b/`, `/a//b`, `/a/./b`. */
export function ttlPath(path: string): string {
  return '/' + path.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

export class TtlOps extends QuotaOps {
  async ttlList(): Promise<TtlRule[]> {
    return (await this.load()).ttl ?? [];
  }

  /** The directory a rule is set on; one line when it is missing or not a directory. */
  private async ttlDir(path: string): Promise<{ inode: number; path: string }> {
    const p = ttlPath(path);
    let found: { inode: number; attr: Attr };
    try {
      found = await this.resolve(rootContext(), ROOT_INODE, p);
    } catch (e) {
      if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) throw fsErr('ENOENT', `no directory ${p} in the volume`);
      throw e;
    }
    if (found.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR', `${p} is not a directory (a TTL is set on a directory)`);
    if (isTrashDir(found.inode)) throw fsErr('EINVAL', 'the trash has its own expiry (--trash-days)');
    return { inode: found.inode, path: p };
  }

  /**
   * Sets (or changes) the TTL of a directory. A new rule files the regular files already under it (one walk
   * of that tree, skipping subtrees with rules of their own); `indexed` counts them.
   */
  async ttlSet(path: string, days: number): Promise<TtlRule & { indexed: number }> {
    if (!Number.isInteger(days) || days < 1) throw fsErr('EINVAL', `--days ${days} is not a whole number of days (1 or more)`);
    const dir = await this.ttlDir(path);
    // Volumes formatted before TTL existed get the index table now (createSchema adds only what is missing).
    await this.eng.createSchema();
    const rule: TtlRule = { inode: dir.inode, path: dir.path, days };
    let isNew = true;
    const f = await this.updateFormat((old) => {
      const others = (old.ttl ?? []).filter((r) => r.inode !== dir.inode);
      isNew = others.length === (old.ttl ?? []).length;
      return { ttl: [...others, rule] };
    });
    const indexed = isNew ? await this.indexTree(dir.inode, ttlRulesByDir(f)) : 0;
    return { ...rule, indexed };
  }

  /**
   * Removes a directory's TTL and its index rows: its files are never expired by it again. When a rule
   * above it covers the directory, its files are filed under that rule (one walk of the tree).
   */
  async ttlDelete(path: string): Promise<TtlRule> {
    const p = ttlPath(path);
    const dir = await this.ttlDir(p).catch(() => undefined);
    let gone: TtlRule | undefined;
    const f = await this.updateFormat((old) => {
      const rules = old.ttl ?? [];
      gone = rules.find((r) => (dir ? r.inode === dir.inode : r.path === p));
      return { ttl: rules.filter((r) => r !== gone) };
    });
    if (!gone) throw fsErr('ENOENT', `no TTL is set on ${p}`);
    const rule = gone;
    await this.eng.txn((tx) => tx.clearTtlIndex(rule.inode));
    const rules = ttlRulesByDir(f);
    if (dir && rules.size) {
      const above = await this.eng.read(async (tx) => {
        const a = await tx.getAttr(dir.inode);
        return a ? nearestTtlRule(tx, rules, a.parent) : undefined;
      });
      if (above) await this.indexTree(dir.inode, rules, above);
    }
    return rule;
  }

  /** Files the regular files under `top` (all under `rule`, or the rule of `top` itself) page by page. */
  private async indexTree(top: number, rules: ReadonlyMap<number, TtlRule>, rule = rules.get(top)): Promise<number> {
    if (!rule) return 0;
    let n = 0;
    let rows: Array<{ ino: number; mtime: number; parent: number; name: string }> = [];
    const flush = async () => {
      const batch = rows;
      rows = [];
      if (batch.length) await this.eng.txn(async (tx) => {
        for (const r of batch) await tx.addTtlIndex(rule.inode, r.ino, r.mtime, r);
      });
    };
    const dirs = [top];
    while (dirs.length) {
      const dir = dirs.pop()!;
      for (let after: string | undefined; ; ) {
        const page = await this.eng.read((tx) => tx.listEntries(dir, after, PAGE, true));
        for (const e of page) {
          if (e.attr.type === TYPE_DIRECTORY) {
            // A nearer rule keeps its own subtree; the trash is no part of any.
            if (!rules.has(e.inode) && !isTrashDir(e.inode)) dirs.push(e.inode);
          } else if (e.attr.type === TYPE_FILE) {
            rows.push({ ino: e.inode, mtime: e.attr.mtime, parent: dir, name: e.name });
            n++;
            if (rows.length >= INDEX_BATCH) await flush();
          }
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.name;
      }
    }
    await flush();
    return n;
  }

  /** Expires what is due now when this client holds the expiry lease (one client at a time); undefined if not. */
  async ttlExpireDue(now = Date.now()): Promise<TtlRunResult | undefined> {
    const f = this.fmt ?? (await this.load());
    if (!f.ttl?.length) return undefined;
    const got = await this.eng.txn(async (tx) => {
      if ((await tx.getCounter(LEASE_COUNTER)) > now) return false;
      await tx.setCounter(LEASE_COUNTER, now + LEASE_MS);
      return true;
    });
    return got ? this.ttlExpire(now) : undefined;
  }

  /** Moves every file whose rule's days have passed since its mtime (at `now`, ms) to the trash. */
  async ttlExpire(now = Date.now()): Promise<TtlRunResult> {
    const f = await this.load();
    const out: TtlRunResult = { rules: 0, rowsRead: 0, expired: 0, stale: 0, refused: 0 };
    const nowS = Math.floor(now / 1000);
    for (const rule of f.ttl ?? []) {
      out.rules++;
      // Rows that stay where they are (refused files) are skipped by the next page; all others leave the range.
      let kept = 0;
      for (;;) {
        const rows = await this.eng.read((tx) => tx.scanTtlIndex(rule.inode, nowS - rule.days * DAY_S, kept, EXPIRE_BATCH));
        if (!rows.length) break;
        const r = await this.expireRows(rule.inode, rows, nowS);
        out.rowsRead += rows.length;
        out.expired += r.expired;
        out.stale += r.stale;
        out.refused += r.refused;
        kept += r.refused;
        if (rows.length < EXPIRE_BATCH) break;
      }
    }
    return out;
  }

  /** One transaction over a page of a rule's due rows, against the rules stored now (a rule removed meanwhile expires nothing). */
  private async expireRows(ruleIno: number, rows: TtlIndexRow[], nowS: number): Promise<{ expired: number; stale: number; refused: number }> {
    return this.change('ttl-expire', async (tx) => {
      const rules = ttlRulesByDir(readFormat(await tx.getSetting(), this.url));
      const ctx = rootContext();
      const t = stamp();
      const parents = new Map<number, Attr>();
      const r = { expired: 0, stale: 0, refused: 0 };
      for (const row of rows) {
        const a = await tx.getAttr(row.ino);
        const at = a && a.type === TYPE_FILE ? await this.placeOf(tx, row, a) : undefined;
        const rule = at && (await nearestTtlRule(tx, rules, at.parent));
        if (!a || !at || !rule) {
          // Deleted, in the trash, or no longer under any rule.
          await tx.delTtlIndex(ruleIno, row.ino);
          r.stale++;
          continue;
        }
        if (a.mtime > nowS - rule.days * DAY_S) {
          // Written since, or under a nearer rule with more days: filed again where it belongs now.
          if (rule.inode !== ruleIno) await tx.delTtlIndex(ruleIno, row.ino);
          await tx.addTtlIndex(rule.inode, row.ino, a.mtime, at);
          r.stale++;
          continue;
        }
        let pa = parents.get(at.parent);
        if (!pa) pa = await this.mustAttr(tx, at.parent);
        try {
          // The rules still apply (chattr +i, an append-only directory): checked before this file's first write.
          await this.guard(tx, 'unlink', ctx, [
            { role: 'dir', ino: at.parent, attr: pa },
            { role: 'removed', ino: row.ino, attr: a, parent: at.parent },
          ]);
        } catch (e) {
          if (!(e instanceof FsError)) throw e;
          r.refused++;
          continue;
        }
        await tx.delEntry(at.parent, at.name);
        touch(pa, t);
        parents.set(at.parent, pa);
        await this.removed(tx, ctx, row.ino, a, at.parent, at.name, t);
        await tx.delTtlIndex(ruleIno, row.ino);
        if (rule.inode !== ruleIno) await tx.delTtlIndex(rule.inode, row.ino);
        r.expired++;
      }
      for (const [ino, pa] of parents) await tx.setAttr(ino, pa);
      return r;
    });
  }

  /**
   * The name a file has now: the one its row recorded when it still names it, else found in its
   * directory (a row only a write recorded, or a file renamed in place). Undefined in the trash or unlinked.
   */
  private async placeOf(tx: Tx, row: TtlIndexRow, a: Attr): Promise<{ parent: number; name: string } | undefined> {
    if (row.name && (await tx.getEntry(row.parent, row.name))?.inode === row.ino) return { parent: row.parent, name: row.name };
    const dirs = a.parent ? [a.parent] : (await tx.listParents(row.ino)).map((p) => p.parent);
    for (const dir of dirs) {
      if (isTrashDir(dir)) continue;
      for (let after: string | undefined; ; ) {
        const page = await tx.listEntries(dir, after, PAGE, false);
        const e = page.find((x) => x.inode === row.ino);
        if (e) return { parent: dir, name: e.name };
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.name;
      }
    }
    return undefined;
  }
}
