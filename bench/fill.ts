// The fast filler of the metadata benchmarks (bench:scan, bench:dump): on SQL engines by multi-row INSERTs,
// elsewhere through the Tx primitives, in large transactions. Directories of 1,000 entries; each file has
// one chunk of one slice; every 10th a slice reference, every 100th an xattr, every 100th entry a symlink.
import { newAttr, stamp } from '../src/meta/attrs.js';
import type { SqlConn } from '../src/meta/engines/sql/dialect.js';
import { ATTR_COLUMNS } from '../src/meta/engines/sql/schema.js';
import type { Meta } from '../src/meta/interface.js';
import { encodeSlices } from '../src/meta/slices.js';
import type { Engine, Tx } from '../src/meta/tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK } from '../src/meta/types.js';

const PER_DIR = 1000;
const FILL_TX = 2000;

export const engineOf = (m: Meta) => (m as unknown as { eng: Engine }).eng;

/** Fills the volume with `inodes` inodes (root and directories included) in large transactions. */
export async function fill(m: Meta, inodes: number, log: (s: string) => void): Promise<void> {
  const eng = engineOf(m);
  const t = stamp();
  let made = 1; // the root
  let dirs = 0;
  const t0 = performance.now();
  while (made < inodes) {
    const files = Math.min(PER_DIR, inodes - made - 1);
    // Ids are assigned at commit (Redis): take them in a transaction of their own, then write the rows.
    const dirIno = (await eng.txn((tx) => tx.incrCounter('nextInode', 1))).value;
    await eng.txn(async (tx) => {
      await tx.setEntry(ROOT_INODE, `d${dirs}`, dirIno, TYPE_DIRECTORY);
      await tx.setAttr(dirIno, newAttr(TYPE_DIRECTORY, 0o755, 0, 0, ROOT_INODE, t));
    });
    dirs++;
    made++;
    for (let i = 0; i < files; i += FILL_TX) {
      const k = Math.min(FILL_TX, files - i);
      // Ids first (a small transaction), then the rows: multi-row INSERTs on SQL, Tx primitives elsewhere.
      const [a, b] = await eng.txn(async (tx) => [await tx.incrCounter('nextInode', k), await tx.incrCounter('nextSlice', k)]);
      const [lastIno, lastSlice] = [a!.value, b!.value];
      if (isSql(eng)) await sqlFillFiles(eng, dirIno, i, k, lastIno, lastSlice, t);
      else await eng.txn((tx) => fillFiles(tx, dirIno, i, k, lastIno, lastSlice, t));
    }
    made += Math.max(0, files);
    if (dirs % 100 === 0) log(`  filled ${made.toLocaleString()} inodes (${((made / (performance.now() - t0)) * 1000).toFixed(0)}/s)`);
  }
  await eng.txn(async (tx) => {
    const root = (await tx.getAttr(ROOT_INODE))!;
    root.nlink = 2 + dirs;
    await tx.setAttr(ROOT_INODE, root);
    await tx.setCounter('totalInodes', made);
  });
}

/** The rows of one file (or symlink) of the fill, engine-neutral. */
function fileRows(dir: number, n: number, ino: number, id: number, t: ReturnType<typeof stamp>) {
  if (n % 100 === 99) {
    return { entry: [dir, `s${n}`, ino, TYPE_SYMLINK], attr: { ...newAttr(TYPE_SYMLINK, 0o777, 0, 0, dir, t), length: 8 }, symlink: `f${n - 1}.dat` };
  }
  return {
    entry: [dir, `f${n}.dat`, ino, TYPE_FILE],
    attr: { ...newAttr(TYPE_FILE, 0o644, 0, 0, dir, t), length: 4096 },
    slice: { pos: 0, id, size: 4096, off: 0, len: 4096 },
    ref: n % 10 === 0,
    xattr: n % 100 === 0 ? Buffer.from(`v${n}`) : undefined,
  };
}

interface SqlBulk {
  readonly prefix: string;
  withWrite<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
}

function isSql(eng: Engine): eng is Engine & SqlBulk {
  return 'statements' in eng && 'prefix' in eng;
}

/** The SQL engines' bulk path: multi-row INSERTs (1,000 rows each) in one transaction. */
async function sqlFillFiles(eng: SqlBulk, dir: number, from: number, k: number, lastIno: number, lastSlice: number, t: ReturnType<typeof stamp>): Promise<void> {
  const tables: Record<string, { cols: string[]; rows: unknown[][] }> = {
    edge: { cols: ['parent', 'name', 'inode', 'type'], rows: [] },
    node: { cols: ['inode', ...ATTR_COLUMNS], rows: [] },
    chunk: { cols: ['inode', 'indx', 'slices', 'cnt'], rows: [] },
    slice_ref: { cols: ['id', 'size', 'refs'], rows: [] },
    symlink: { cols: ['inode', 'target'], rows: [] },
    xattr: { cols: ['inode', 'name', 'value'], rows: [] },
  };
  for (let j = 0; j < k; j++) {
    const ino = lastIno - k + 1 + j;
    const r = fileRows(dir, from + j, ino, lastSlice - k + 1 + j, t);
    tables.edge!.rows.push(r.entry);
    tables.node!.rows.push([ino, ...ATTR_COLUMNS.map((c) => r.attr[c])]);
    if (r.symlink !== undefined) tables.symlink!.rows.push([ino, r.symlink]);
    if (r.slice) tables.chunk!.rows.push([ino, 0, encodeSlices([r.slice]), 1]);
    if (r.ref) tables.slice_ref!.rows.push([r.slice!.id, 4096, 1]);
    if (r.xattr) tables.xattr!.rows.push([ino, 'user.tag', r.xattr]);
  }
  await eng.withWrite(async (c) => {
    for (const [name, { cols, rows }] of Object.entries(tables)) {
      for (let i = 0; i < rows.length; i += 1000) {
        const part = rows.slice(i, i + 1000);
        const values = part.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ');
        await c.run(`INSERT INTO ${eng.prefix}${name} (${cols.join(', ')}) VALUES ${values}`, part.flat());
      }
    }
  });
}

async function fillFiles(tx: Tx, dir: number, from: number, k: number, last: number, lastSlice: number, t: ReturnType<typeof stamp>): Promise<void> {
  for (let j = 0; j < k; j++) {
    const ino = last - k + 1 + j;
    const r = fileRows(dir, from + j, ino, lastSlice - k + 1 + j, t);
    await tx.setEntry(dir, r.entry[1] as string, ino, r.entry[3] as typeof TYPE_FILE);
    await tx.setAttr(ino, r.attr);
    if (r.symlink !== undefined) await tx.setSymlink(ino, r.symlink);
    if (r.slice) await tx.setChunk(ino, 0, [r.slice]);
    if (r.ref) await tx.addSliceRef(r.slice!.id, 4096, 1);
    if (r.xattr) await tx.setXattr(ino, 'user.tag', r.xattr);
  }
}

