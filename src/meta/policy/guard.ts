// Policy hooks: every modifying operation of BaseMeta passes through one guard inside its transaction,
// naming the inodes it touches; rules plugged in here (immutable flags, volume quota, and later trash,
// directory quotas, TTL, read-only subtrees) decide without each operation knowing about them.
//
// Which operation passes which targets (role: inode). `parent` is the directory holding the name the
// operation acts on; the guard runs after the operation's own checks (existence, permissions, sticky
// bits) and before its first write, so rules see what the operation will change.
//
//   mkdir, mknod, create, symlink   dir: parent              new: the inode being made (attr as it will be)
//   link                            dir: the new name's dir   linked: the inode
//   unlink                          dir: parent              removed: the inode (when it still exists)
//   rmdir                           dir: parent              removed: the directory
//   rename                          dir: source dir, dir: destination dir (when another),
//                                   moved: the source inode (parent: source dir),
//                                   removed: the inode a plain rename replaces, or moved: the one an
//                                   exchange swaps (parent: destination dir)
//   setattr (flags: SET_* bits)     changed: the inode
//   open for writing (flags: open flags; outside a transaction)   changed: the inode
//   write, truncate                 changed: the file
//   fallocate (flags: mode)         changed: the file
//   copy (copyFileRange)            read: the source file, changed: the destination file
//   setxattr (flags: XATTR_*), removexattr   changed: the inode
//   clone (one batch of copies)     dir: where the copies go, then per copy read: its source and
//                                   new: the copy (another name of a copy already made: no target)
//
// Not guarded, because they change nothing a user sees and must never be refused: compaction
// (replaceSlices), freeing deleted files (gc), releasing an open-but-deleted inode, session bookkeeping,
// locks, and the replay of another volume's changelog (mirrors: the source guarded the change).
//
// Growth is charged with `charge(at, space, inodes)` where the operation knows how much it grows
// (mkdir/mknod/create/symlink on the new inode; write, truncate, fallocate, copy, setattr with a size
// on the file): the quota rules see the target and, lazily, its chain of parent directories. Shrinking
// data is `free(at, space, 0)` (truncate, setattr with a smaller size). A name leaving or entering a
// directory is `transfer(t, from, to)`: unlink, rmdir and the entry a rename replaces (from: its
// directory; the trash keeps the inode, but its name has left the tree, as in JuiceFS), link and a trash
// restore (to: the new name's directory), rename across directories (both). Transfers never change the
// volume's usage, so only directory quotas implement them. A trash restore passes no checks (`restore`):
// its guard only accounts.
//
// Rules that keep an index of the namespace (TTL) see, through `committing`, the writes every
// namespace-changing transaction made (the changelog's mutations: attributes as they end, entries added),
// in that transaction just before it commits: what a file ends up as is known only then (a setattr's new
// mtime, a rename's new name). Mirrors replaying a record do not pass there.
import { fsErr } from '../../errors.js';
import type { RecordedMutation } from '../assigned.js';
import { ROOT_INODE, TYPE_DIRECTORY, type Attr, type Context, type Format } from '../types.js';
import type { Tx } from '../tx.js';

export type GuardOp =
  | 'mkdir'
  | 'mknod'
  | 'create'
  | 'symlink'
  | 'link'
  | 'unlink'
  | 'rmdir'
  | 'rename'
  | 'setattr'
  | 'open'
  | 'write'
  | 'truncate'
  | 'fallocate'
  | 'copy'
  | 'setxattr'
  | 'removexattr'
  | 'clone'
  /** A trash restore: not checked, only accounted (transfer). */
  | 'restore';

/** How an operation touches an inode. */
export type Role =
  /** A directory whose entries change. */
  | 'dir'
  /** The inode being created (not stored yet). */
  | 'new'
  /** An inode losing a name (unlink, rmdir, the entry a rename replaces). */
  | 'removed'
  /** An inode a rename gives another name. */
  | 'moved'
  /** The inode link gives one more name. */
  | 'linked'
  /** An inode whose attributes, data or extended attributes change. */
  | 'changed'
  /** An inode read to make the change (copy's source). */
  | 'read';

export interface Target {
  role: Role;
  ino: number;
  /** Its attributes as read in the operation's transaction (for 'new': as they will be stored). */
  attr: Attr;
  /** The directory of the name acted on ('new', 'removed', 'moved', 'linked'); its chain is the target's. */
  parent?: number;
}

/** What a rule sees of one operation. */
export interface Guarded {
  readonly op: GuardOp;
  readonly ctx: Context;
  readonly targets: readonly Target[];
  /** setattr: SET_* bits; fallocate: mode; open: open flags; rename: rename flags; setxattr: XATTR_* flags; otherwise 0. */
  readonly flags: number;
  readonly format: Format;
  /** Runs reads in the operation's transaction (outside one, for open, in a read transaction of its own). */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs writes in the operation's transaction (usage counters kept by a rule); EIO outside one. */
  update<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The directories above a target, nearest first and the root last (the root itself has none). Walked on
   * demand and remembered for the operation, so rules that never ask cost nothing. A file with several
   * links and no `parent` given has the directories of all its names.
   */
  ancestors(t: Target): Promise<number[]>;
  /** Directory `dir` and the directories above it, nearest first (walked and remembered as ancestors are). */
  dirChain(dir: number): Promise<number[]>;
}

/** A transaction about to commit, as `Rule.committing` sees it. */
export interface Committing {
  /** The operation's name as the changelog records it (`create`, `rename`, `trash-restore`, ...). */
  readonly op: string;
  readonly format: Format;
  /** The operation's transaction (writes made here are not logged: derived state such as an index). */
  readonly tx: Tx;
  /** The logged writes of the operation, in order. */
  readonly mutations: readonly RecordedMutation[];
}

export interface Rule {
  readonly name: string;
  /** Runs at the end of every namespace-changing transaction that wrote something, before it commits. */
  committing?(c: Committing): Promise<void>;
  /** Refuses the operation by throwing an FsError. */
  check?(g: Guarded): void | Promise<void>;
  /** Refuses growth by `space` bytes and `inodes` inodes charged to `at` (ENOSPC, EDQUOT); may account it. */
  charge?(g: Guarded, at: Target, space: number, inodes: number): void | Promise<void>;
  /** `at` shrank by `space` bytes and `inodes` inodes (never refused). */
  free?(g: Guarded, at: Target, space: number, inodes: number): void | Promise<void>;
  /**
   * A name of `t` leaves directory `from` and/or enters directory `to` (undefined: none), taking with it
   * what is under it. May refuse with EDQUOT (entering a full quota) or EXDEV.
   */
  transfer?(g: Guarded, t: Target, from: number | undefined, to: number | undefined): void | Promise<void>;
}

/** Builds a volume's rule from its format; undefined when the volume does not need it. */
export type RuleFactory = (format: Format) => Rule | undefined;

const factories: Array<{ name: string; make: RuleFactory }> = [];
let generation = 0;

/**
 * Adds a rule to every Meta of this process (rules run in the order registered); each volume asks the
 * factory with its format. Returns a function that removes it again.
 */
export function registerRule(name: string, make: RuleFactory): () => void {
  const entry = { name, make };
  factories.push(entry);
  generation++;
  return () => {
    const i = factories.indexOf(entry);
    if (i >= 0) factories.splice(i, 1);
    generation++;
  };
}

/** The rules of one volume, rebuilt when its format or the registry changes. */
export class Policy {
  private built?: { format: Format; generation: number; rules: Rule[] };

  rules(format: Format): Rule[] {
    const b = this.built;
    if (b && b.format === format && b.generation === generation) return b.rules;
    const rules = factories.map((f) => f.make(format)).filter((r): r is Rule => r !== undefined);
    this.built = { format, generation, rules };
    return rules;
  }

  /** Lets the rules that index the namespace see a transaction's writes before it commits. */
  async committing(op: string, format: Format, tx: Tx, mutations: readonly RecordedMutation[]): Promise<void> {
    for (const r of this.rules(format)) if (r.committing) await r.committing({ op, format, tx, mutations });
  }
}

/** One operation passing the guard: its checks ran; the operation charges its growth through it. */
export class Guard implements Guarded {
  private readonly chains = new Map<number, Promise<number[]>>();

  constructor(
    readonly op: GuardOp,
    readonly ctx: Context,
    readonly targets: readonly Target[],
    readonly flags: number,
    readonly format: Format,
    private readonly rules: readonly Rule[],
    private readonly reader: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
    /** The operation's transaction (undefined for open). */
    private readonly tx?: Tx,
  ) {}

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.reader(fn);
  }

  update<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (!this.tx) throw fsErr('EIO', `${this.op} runs outside a transaction: nothing can be accounted`);
    return fn(this.tx);
  }

  async check(): Promise<void> {
    for (const r of this.rules) if (r.check) await r.check(this);
  }

  /** Asks every quota rule before the operation grows by `space` bytes and `inodes` inodes at `at`. */
  async charge(at: Target, space: number, inodes: number): Promise<void> {
    for (const r of this.rules) if (r.charge) await r.charge(this, at, space, inodes);
  }

  /** Tells every rule that `at` shrank (truncate): usage kept by the rules goes down. */
  async free(at: Target, space: number, inodes: number): Promise<void> {
    if (space <= 0 && inodes <= 0) return;
    for (const r of this.rules) if (r.free) await r.free(this, at, space, inodes);
  }

  /** Tells every rule that a name of `t` leaves directory `from` and/or enters `to` (see Rule.transfer). */
  async transfer(t: Target, from: number | undefined, to: number | undefined): Promise<void> {
    if (from === to) return;
    for (const r of this.rules) if (r.transfer) await r.transfer(this, t, from, to);
  }

  async dirChain(dir: number): Promise<number[]> {
    return [dir, ...(await this.above(dir))];
  }

  async ancestors(t: Target): Promise<number[]> {
    if (t.parent !== undefined) return [t.parent, ...(await this.above(t.parent))];
    if (t.attr.type === TYPE_DIRECTORY) return this.above(t.ino);
    if (t.attr.parent !== 0) return [t.attr.parent, ...(await this.above(t.attr.parent))];
    // Several links: the link table names every directory holding one.
    const out: number[] = [];
    for (const p of await this.read((tx) => tx.listParents(t.ino))) {
      for (const d of [p.parent, ...(await this.above(p.parent))]) if (!out.includes(d)) out.push(d);
    }
    return out;
  }

  /** The directories above directory `dir`, walked through each directory's parent. */
  private above(dir: number): Promise<number[]> {
    let chain = this.chains.get(dir);
    if (!chain) {
      chain = this.read(async (tx) => {
        const out: number[] = [];
        if (dir === ROOT_INODE) return out;
        if (tx.parentChain) {
          // One read; cut where the walk below would stop (a loop seen half-way through a concurrent move).
          for (const p of await tx.parentChain(dir)) {
            if (out.includes(p) || p === dir) break;
            out.push(p);
          }
          return out;
        }
        for (let d = dir; d !== ROOT_INODE; ) {
          const a = await tx.getAttr(d);
          // A vanished directory or a loop (a concurrent move seen half-way) ends the walk.
          if (!a || a.parent === 0 || out.includes(a.parent) || a.parent === dir) break;
          out.push(a.parent);
          d = a.parent;
        }
        return out;
      });
      this.chains.set(dir, chain);
    }
    return chain;
  }
}
