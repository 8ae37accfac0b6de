// TTL expiry's index (`ferry ttl`): when a volume has TTL rules, every transaction that leaves a regular file
// with new attributes (created, written, truncated, touched, renamed, restored) files it, in the same
// transaction, under the nearest rule directory above it with its mtime. The expiry job then reads the
// oldest rows of each rule instead of walking the tree. Volumes without rules build no rule here, so pay
// nothing; files outside every rule's tree cost the walk up their parent chain.
import { isTrashDir, parseTrashEntryName } from '../../trash-names.js';
import type { Tx } from '../../tx.js';
import { ROOT_INODE, TYPE_FILE, type Attr, type Format, type TtlRule } from '../../types.js';
import type { Rule } from '../guard.js';

/** Deeper than any real tree: a loop seen half-way through a concurrent move ends the walk. */
const MAX_DEPTH = 4096;

/** The rule of the nearest directory at or above `dir` (none in the trash). */
export async function nearestTtlRule(tx: Tx, rules: ReadonlyMap<number, TtlRule>, dir: number): Promise<TtlRule | undefined> {
  if (rules.has(dir)) return rules.get(dir);
  if (dir === ROOT_INODE || isTrashDir(dir) || !dir) return undefined;
  if (tx.parentChain) {
    // One read for the whole chain where the engine has it.
    for (const d of await tx.parentChain(dir)) {
      if (isTrashDir(d)) return undefined;
      const r = rules.get(d);
      if (r) return r;
    }
    return undefined;
  }
  for (let d = dir, depth = 0; d && depth < MAX_DEPTH; depth++) {
    const r = rules.get(d);
    if (r) return r;
    if (d === ROOT_INODE || isTrashDir(d)) return undefined;
    const a = await tx.getAttr(d);
    if (!a) return undefined;
    d = a.parent;
  }
  return undefined;
}

export const ttlRulesByDir = (format: Format): Map<number, TtlRule> => new Map((format.ttl ?? []).map((r) => [r.inode, r]));

export function ttlRule(format: Format): Rule | undefined {
  if (!format.ttl?.length) return undefined;
  const rules = ttlRulesByDir(format);
  return {
    name: 'ttl',
    async committing({ op, tx, mutations }) {
      // A file brought back from the trash is kept: expiry dropped its row, and the restore files none
      // (it is filed again when next written).
      if (op === 'trash-restore') return;
      // Each file's attributes as the transaction leaves them, and the name it was given (if any).
      const files = new Map<number, Attr>();
      const placed = new Map<number, { parent: number; name: string }>();
      const freed: number[] = [];
      const leftDirs = new Set<number>(); // directories a name left: its file's row under their rule goes
      for (const m of mutations) {
        if (m.t === 'attr') {
          if (m.attr.type === TYPE_FILE) files.set(m.ino, m.attr);
        } else if (m.t === 'rmattr') {
          files.delete(m.ino);
          freed.push(m.ino);
        } else if (m.t === 'entry' && m.type === TYPE_FILE) {
          placed.set(m.ino, { parent: m.parent, name: m.name });
          // Into the trash: the entry's name keeps the directory it was deleted from.
          if (isTrashDir(m.parent)) leftDirs.add(parseTrashEntryName(m.name).parent);
        } else if (m.t === 'rmentry' && !isTrashDir(m.parent)) leftDirs.add(m.parent);
      }
      // Files that left a rule's tree (deleted, trashed, renamed out) leave its index too, so expiry reads
      // only rows of files it may expire.
      const left = new Set<TtlRule>();
      for (const d of leftDirs) {
        const r = await nearestTtlRule(tx, rules, d);
        if (r) left.add(r);
      }
      for (const [ino, a] of files) {
        const at = placed.get(ino);
        // A file with several links has no single parent: the name given here, else its first link's directory.
        const dir = at?.parent ?? (a.parent || (await tx.listParents(ino))[0]?.parent || 0);
        const rule = await nearestTtlRule(tx, rules, dir);
        if (rule) await tx.addTtlIndex(rule.inode, ino, a.mtime, at);
        if (at) for (const r of left) if (r !== rule) await tx.delTtlIndex(r.inode, ino);
      }
      for (const ino of freed) for (const r of left) await tx.delTtlIndex(r.inode, ino);
    },
  };
}
