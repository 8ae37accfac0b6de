// `ferry load` at the engine: rows of a dump written through the Tx primitives in large transactions
// (nothing logged: the loaded volume starts with an empty changelog at the dump's version), then what
// the rows imply recounted from the loaded tables, then the counters, and the format record last, so
// a load that stops half way never leaves something a client takes for a volume.
//
// Rows may come twice (a Redis scan may return a row twice when its table shrinks), so every row is
// applied as "set", never "add". Recounting after the rows (rather than trusting the dump) keeps the
// loaded volume coherent even when the dump was taken while the volume changed (see dump.ts).
import { FsError } from '../../errors.js';
import { spaceOf } from '../attrs.js';
import type { DumpCounters, DumpRow, LoadTotals } from '../dump-format.js';
import { txPage, type ScanKind, type ScanRows } from '../scan.js';
import { isTrashDir } from '../trash-names.js';
import type { Engine, Tx } from '../tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Format } from '../types.js';

const PAGE = 1000;

async function* rows<K extends ScanKind>(eng: Engine, kind: K): AsyncGenerator<ScanRows[K][]> {
  let cursor: string | undefined;
  do {
    const c = cursor;
    const page = await eng.read((tx) => txPage(tx, kind, c, PAGE));
    yield page.rows;
    cursor = page.next;
  } while (cursor !== undefined);
}

async function anyRow<K extends ScanKind>(eng: Engine, kind: K, test: (r: ScanRows[K]) => boolean): Promise<boolean> {
  for await (const page of rows(eng, kind)) if (page.some(test)) return true;
  return false;
}

/** Creates the schema if needed and refuses a target holding anything but an empty root. */
export async function beginLoad(eng: Engine, url: string): Promise<void> {
  await eng.createSchema();
  const f = await eng.read((tx) => tx.getSetting());
  const busy = (await anyRow(eng, 'entries', () => true)) || (await anyRow(eng, 'inodes', (r) => r.ino !== ROOT_INODE));
  if (!busy) return;
  throw new FsError('ENOTEMPTY', {
    message: f
      ? `volume '${f.name}' at ${url} is not empty: load into a new volume or an empty one`
      : `${url} holds metadata but no volume (an interrupted load?): load into a new or empty target`,
  });
}

async function applyRow(tx: Tx, r: DumpRow): Promise<void> {
  switch (r.kind) {
    case 'inode':
      return tx.setAttr(r.ino, r.attr);
    case 'entry':
      return tx.setEntry(r.parent, r.name, r.ino, r.type);
    case 'symlink':
      return tx.setSymlink(r.ino, r.target);
    case 'xattr':
      return tx.setXattr(r.ino, r.name, Buffer.from(r.value, 'base64'));
    case 'chunk':
      return tx.setChunk(r.ino, r.indx, r.slices);
    case 'link': {
      // The table keeps counts changed by deltas: set the count, whatever was loaded before.
      const had = (await tx.listParents(r.ino)).find((p) => p.parent === r.parent)?.count ?? 0;
      if (r.count !== had) await tx.addParent(r.ino, r.parent, r.count - had);
      return;
    }
    case 'delfile':
      return tx.addDelFile(r.ino, r.length);
    case 'delslice':
      return tx.addDelSlice(r.id, r.size);
    default:
      throw new FsError('EINVAL', { message: `unknown dump record kind '${(r as { kind: string }).kind}'` });
  }
}

/** Writes a batch of rows in one transaction. */
export async function loadRows(eng: Engine, batch: DumpRow[]): Promise<void> {
  await eng.txn(async (tx) => {
    // An engine with a bulk path (SQL: multi-row statements) takes what it can; the rest goes row by row.
    const rest = tx.loadRows ? await tx.loadRows(batch) : batch;
    for (const r of rest) await applyRow(tx, r);
  });
}

/**
 * Recounts what the rows imply, sets the counters and writes the format record. Slice reference counts
 * are one per occurrence of a slice in a chunk (as writeSlice, copyFileRange and compaction keep them).
 */
export async function finishLoad(eng: Engine, format: Format, c: DumpCounters): Promise<LoadTotals> {
  const totals: LoadTotals = { inodes: 0, usedSpace: 0, freed: 0 };
  for await (const page of rows(eng, 'inodes')) {
    const orphans = page.filter((r) => r.attr.type !== TYPE_DIRECTORY && r.attr.nlink === 0);
    for (const r of page) {
      if (isTrashDir(r.ino) || (r.attr.type !== TYPE_DIRECTORY && r.attr.nlink === 0)) continue;
      totals.inodes++;
      totals.usedSpace += spaceOf(r.attr);
    }
    if (!orphans.length) continue;
    totals.freed += orphans.length;
    // As freeInode does, without the counters (recounted here): the chunks go with the delete queue.
    await eng.txn(async (tx) => {
      for (const { ino, attr } of orphans) {
        await tx.delAttr(ino);
        if (attr.type === TYPE_SYMLINK) await tx.delSymlink(ino);
        for (const name of await tx.listXattr(ino)) await tx.delXattr(ino, name);
        for (const p of await tx.listParents(ino)) await tx.addParent(ino, p.parent, -p.count);
        if (attr.type === TYPE_FILE) await tx.addDelFile(ino, attr.length);
      }
    });
  }
  for await (const page of rows(eng, 'chunks')) {
    const refs = page.flatMap((chunk) => chunk.slices.filter((s) => s.id).map((s) => ({ id: s.id, size: s.size, delta: 1 })));
    if (!refs.length) continue;
    await eng.txn(async (tx) => {
      if (tx.addSliceRefs) await tx.addSliceRefs(refs);
      else for (const r of refs) await tx.addSliceRef(r.id, r.size, r.delta);
    });
  }
  await eng.txn(async (tx) => {
    // Allocation counters never go back, in case the target had allocated more.
    for (const name of ['nextInode', 'nextSlice', 'nextSession'] as const) {
      await tx.setCounter(name, Math.max(c[name], await tx.getCounter(name)));
    }
    await tx.setCounter('version', c.version);
    if (c.appliedVersion) await tx.setCounter('appliedVersion', c.appliedVersion);
    await tx.setCounter('totalInodes', totals.inodes);
    await tx.setCounter('usedSpace', totals.usedSpace);
    await tx.setSetting(format);
  });
  return totals;
}
