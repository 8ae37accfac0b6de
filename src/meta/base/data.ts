// File data bookkeeping: open files, slice lists of chunks, truncate/fallocate/copy, and the queues
// through which freed slices reach the background job that deletes their objects.
import { fsErr } from '../../errors.js';
import { clearSetIdOnWrite } from '../access.js';
import { align4k, setCtime, stamp, touch, type Stamp } from '../attrs.js';
import type { Guard, Target } from '../policy/index.js';
import { O_ACCMODE, O_APPEND, O_RDWR, O_TRUNC, O_WRONLY } from '../open-flags.js';
import { clipSlice, startsWithSlices } from '../slices.js';
import type { Tx } from '../tx.js';
import {
  AT_END,
  CHUNK_SIZE,
  FALLOC_KEEP_SIZE,
  FALLOC_PUNCH_HOLE,
  FALLOC_ZERO_RANGE,
  MODE_R,
  MODE_W,
  TYPE_DIRECTORY,
  TYPE_FILE,
  type Attr,
  type AttrResult,
  type Context,
  type DeletedSlice,
  type Slice,
  type WriteResult,
} from '../types.js';
import { NamespaceOps } from './namespace.js';


function writingFlags(flags: number): boolean {
  const acc = flags & O_ACCMODE;
  return acc === O_WRONLY || acc === O_RDWR || (flags & O_TRUNC) !== 0;
}

/** Calls fn for each chunk piece of [off, off+len): chunk index, position in chunk, length. */
function eachChunk(off: number, len: number, fn: (indx: number, pos: number, n: number, done: number) => void): void {
  let done = 0;
  while (done < len) {
    const at = off + done;
    const indx = Math.floor(at / CHUNK_SIZE);
    const pos = at % CHUNK_SIZE;
    const n = Math.min(len - done, CHUNK_SIZE - pos);
    fn(indx, pos, n, done);
    done += n;
  }
}

export class DataOps extends NamespaceOps {
  /** Last closes whose release transaction is running: an open of the same inode waits for it. */
  private readonly releasing = new Map<number, Promise<void>>();

  async open(ctx: Context, ino: number, flags: number, attr?: Attr): Promise<Attr> {
    // A close of this inode still releasing its record: the open comes after it (it may record anew).
    await this.releasing.get(ino);
    const first = this.sid !== 0 && !this.heldHere.has(ino);
    let a: Attr;
    if (first && attr?.type !== TYPE_DIRECTORY) {
      // The session's first open of a file is recorded in the transaction that reads its attributes
      // (one round trip, as the read alone was): from its commit on, another client's unlink keeps it.
      const sid = this.sid;
      const r = await this.eng.txn(async (tx) => {
        const cur = await tx.getAttr(ino);
        // Attributes the caller read elsewhere (a mirror's replica not caught up yet): nothing to hold here.
        if (!cur && attr) return { a: attr, held: false };
        // Deleted by another client (a stale name or inode number): gone for a new open.
        if (!cur || cur.nlink === 0) throw fsErr('ENOENT');
        await this.checkOpen(tx, ctx, ino, cur, flags);
        if (cur.type === TYPE_FILE) await tx.addSustained(sid, ino);
        return { a: cur, held: cur.type === TYPE_FILE };
      });
      a = r.a;
      if (r.held) this.heldHere.add(ino);
      else await this.checkOpen(undefined, ctx, ino, a, flags);
    } else {
      a = attr ?? (await this.getattr(ctx, ino));
      await this.checkOpen(undefined, ctx, ino, a, flags);
    }
    try {
      // Opening for writing is where a client is told a file will not be written (EPERM, EROFS, ...).
      if (writingFlags(flags)) await this.guard(undefined, 'open', ctx, [{ role: 'changed', ino, attr: a }], flags);
    } catch (e) {
      if (first && this.heldHere.has(ino) && !this.openCount.has(ino)) await this.dropHold(ino);
      throw e;
    }
    this.openCount.set(ino, (this.openCount.get(ino) ?? 0) + 1);
    return a;
  }

  /** The permission check of an open (O_TRUNC is the caller's job). */
  private async checkOpen(tx: Tx | undefined, ctx: Context, ino: number, a: Attr, flags: number): Promise<void> {
    const acc = flags & O_ACCMODE;
    const writing = writingFlags(flags);
    let mask = 0;
    if (acc === 0 || acc === O_RDWR) mask |= MODE_R;
    if (writing) mask |= MODE_W;
    if (writing && a.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
    await this.permit(tx, ctx, ino, a, mask);
  }

  async release(_ctx: Context, ino: number): Promise<boolean> {
    const n = (this.openCount.get(ino) ?? 0) - 1;
    if (n > 0) {
      this.openCount.set(ino, n);
      return false;
    }
    this.openCount.delete(ino);
    return this.heldHere.has(ino) ? this.dropHold(ino) : false;
  }

  /** The session's last handle of a file closed: its record goes, and the file with it if that was the last hold. */
  private async dropHold(ino: number): Promise<boolean> {
    this.heldHere.delete(ino);
    const sid = this.sid;
    if (!sid) return false;
    const p = this.releaseSustained(sid, ino);
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.releasing.set(ino, settled);
    try {
      return await p;
    } finally {
      if (this.releasing.get(ino) === settled) this.releasing.delete(ino);
    }
  }

  /** True when the file went with its last hold (its data is then queued for deletion). */
  protected override async releaseSustained(sid: number, ino: number): Promise<boolean> {
    const r = await this.change('release', async (tx) => {
      await tx.delSustained(sid, ino);
      const a = await tx.getAttr(ino);
      if (!a || a.nlink !== 0 || (await tx.listSustainedBy(ino)).some((s) => s !== sid)) return { freed: false };
      await this.freeInode(tx, ino, a);
      return { freed: true };
    });
    return r.freed;
  }

  async readChunk(_ctx: Context, ino: number, indx: number): Promise<Slice[]> {
    return this.eng.read((tx) => tx.getChunk(ino, indx));
  }

  async writeSlice(ctx: Context, ino: number, indx: number, pos: number, s: Omit<Slice, 'pos'>, mtime?: Date): Promise<WriteResult> {
    const atEnd = pos === AT_END;
    if (atEnd ? s.len > CHUNK_SIZE : pos < 0 || pos + s.len > CHUNK_SIZE) throw fsErr('EINVAL', 'slice crosses a chunk boundary');
    return this.change('write', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      if (a.type !== TYPE_FILE) throw fsErr('EPERM');
      // An append's offset is the length this transaction reads: a concurrent append conflicts on the inode.
      const start = atEnd ? a.length : indx * CHUNK_SIZE + pos;
      const end = start + s.len;
      const changed: Target = { role: 'changed', ino, attr: a };
      const g = await this.guard(tx, 'write', ctx, [changed]);
      const grow = align4k(end) - align4k(a.length);
      if (grow > 0) await g.charge(changed, grow, 0);
      let sliceCount = 0;
      // One piece per chunk touched, each holding a reference to the slice (as copyFileRange's pieces do).
      const pieces: Array<[number, Slice]> = atEnd ? [] : [[indx, { pos, ...s }]];
      if (atEnd) eachChunk(start, s.len, (i, p, n, done) => pieces.push([i, { ...s, pos: p, off: s.off + done, len: n }]));
      for (const [i, piece] of pieces) {
        sliceCount = await tx.appendSlice(ino, i, piece);
        if (s.id) await tx.addSliceRef(s.id, s.size, 1);
      }
      if (end > a.length) {
        a.length = end;
        if (grow > 0) await tx.incrCounter('usedSpace', grow);
      }
      // A write by anyone but root clears setuid/setgid (Linux's rule): in the transaction that commits its data.
      clearSetIdOnWrite(ctx, a);
      touch(a, mtime ? stamp(mtime) : stamp());
      await tx.setAttr(ino, a);
      return { sliceCount, attr: a };
    });
  }

  async truncate(ctx: Context, ino: number, length: number): Promise<AttrResult> {
    if (length < 0) throw fsErr('EINVAL');
    return this.change('truncate', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      if (a.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
      if (a.type !== TYPE_FILE) throw fsErr('EINVAL');
      const changed: Target = { role: 'changed', ino, attr: { ...a } };
      const g = await this.guard(tx, 'truncate', ctx, [changed]);
      await this.permit(tx, ctx, ino, a, MODE_W);
      clearSetIdOnWrite(ctx, a);
      await this.truncateIn(tx, g, changed, a, length, stamp());
      await tx.setAttr(ino, a);
      return { attr: a };
    });
  }

  /** Drops chunks past the new end and masks the tail of the last one with a hole, so growing again reads zeros. */
  protected override async truncateIn(tx: Tx, g: Guard, at: Target, a: Attr, length: number, t: Stamp): Promise<void> {
    const ino = at.ino;
    const grow = align4k(length) - align4k(a.length);
    if (grow > 0) await g.charge(at, grow, 0);
    else if (grow < 0) await g.free(at, -grow, 0);
    if (length < a.length) {
      const first = Math.ceil(length / CHUNK_SIZE);
      for (const indx of await tx.listChunkIndexes(ino, first)) await this.dropChunk(tx, ino, indx);
      const pos = length % CHUNK_SIZE;
      if (pos > 0) {
        const last = Math.floor(length / CHUNK_SIZE);
        const tailEnd = Math.min(CHUNK_SIZE, a.length - last * CHUNK_SIZE);
        await tx.appendSlice(ino, last, { pos, id: 0, size: 0, off: 0, len: tailEnd - pos });
      }
    }
    if (grow !== 0) await tx.incrCounter('usedSpace', grow);
    a.length = length;
    touch(a, t);
  }

  /** Deletes a chunk, releasing one reference of each slice in it. */
  protected async dropChunk(tx: Tx, ino: number, indx: number): Promise<void> {
    const slices = await tx.getChunk(ino, indx);
    await tx.setChunk(ino, indx, []);
    await this.releaseSlices(tx, slices);
  }

  protected async releaseSlices(tx: Tx, slices: Slice[]): Promise<void> {
    for (const s of slices) {
      if (s.id && (await tx.addSliceRef(s.id, s.size, -1)) <= 0) await tx.addDelSlice(s.id, s.size);
    }
  }

  async fallocate(ctx: Context, ino: number, mode: number, off: number, len: number): Promise<AttrResult> {
    if (off < 0 || len <= 0) throw fsErr('EINVAL');
    if (mode & FALLOC_PUNCH_HOLE && !(mode & FALLOC_KEEP_SIZE)) throw fsErr('EINVAL');
    if (mode & FALLOC_PUNCH_HOLE && mode & FALLOC_ZERO_RANGE) throw fsErr('EINVAL');
    return this.change('fallocate', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      if (a.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
      if (a.type !== TYPE_FILE) throw fsErr('ENODEV');
      const changed: Target = { role: 'changed', ino, attr: { ...a } };
      const g = await this.guard(tx, 'fallocate', ctx, [changed], mode);
      await this.permit(tx, ctx, ino, a, MODE_W);
      clearSetIdOnWrite(ctx, a);
      const end = off + len;
      if (mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) {
        const holeEnd = Math.min(end, mode & FALLOC_KEEP_SIZE ? a.length : end);
        if (holeEnd > off) await this.appendHoles(tx, ino, off, holeEnd - off);
      }
      const t = stamp();
      if (!(mode & FALLOC_KEEP_SIZE) && end > a.length) {
        const grow = align4k(end) - align4k(a.length);
        await g.charge(changed, grow, 0);
        if (grow) await tx.incrCounter('usedSpace', grow);
        a.length = end;
        touch(a, t);
      } else if (mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) {
        touch(a, t);
      } else {
        setCtime(a, t);
      }
      await tx.setAttr(ino, a);
      return { attr: a };
    });
  }

  private async appendHoles(tx: Tx, ino: number, off: number, len: number): Promise<void> {
    const pieces: Array<[number, number, number]> = [];
    eachChunk(off, len, (indx, pos, n) => pieces.push([indx, pos, n]));
    for (const [indx, pos, n] of pieces) await tx.appendSlice(ino, indx, { pos, id: 0, size: 0, off: 0, len: n });
  }

  async copyFileRange(ctx: Context, fin: number, offIn: number, fout: number, offOut: number, len: number): Promise<AttrResult & { copied: number }> {
    if (offIn < 0 || offOut < 0 || len < 0) throw fsErr('EINVAL');
    return this.change('copy', async (tx) => {
      const ain = await this.mustAttr(tx, fin);
      const aout = fin === fout ? ain : await this.mustAttr(tx, fout);
      if (ain.type === TYPE_DIRECTORY || aout.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
      if (ain.type !== TYPE_FILE || aout.type !== TYPE_FILE) throw fsErr('EINVAL');
      const changed: Target = { role: 'changed', ino: fout, attr: { ...aout } };
      const g = await this.guard(tx, 'copy', ctx, [{ role: 'read', ino: fin, attr: ain }, changed]);
      await this.permit(tx, ctx, fin, ain, MODE_R);
      await this.permit(tx, ctx, fout, aout, MODE_W);
      const n = Math.max(0, Math.min(len, ain.length - offIn));
      if (n === 0) return { attr: aout, copied: 0 };
      clearSetIdOnWrite(ctx, aout);
      if (fin === fout && offIn < offOut + n && offOut < offIn + n) throw fsErr('EINVAL');
      const end = offOut + n;
      const grow = align4k(end) - align4k(aout.length);
      if (grow > 0) await g.charge(changed, grow, 0);
      // The destination range first becomes a hole, then the source's slices are laid over it in order.
      await this.appendHoles(tx, fout, offOut, n);
      const srcChunks = new Map<number, Slice[]>();
      const pieces: Array<[number, Slice]> = [];
      for (let done = 0; done < n; ) {
        const at = offIn + done;
        const indx = Math.floor(at / CHUNK_SIZE);
        const pos = at % CHUNK_SIZE;
        const take = Math.min(n - done, CHUNK_SIZE - pos);
        if (!srcChunks.has(indx)) srcChunks.set(indx, await tx.getChunk(fin, indx));
        for (const s of srcChunks.get(indx)!) {
          const c = clipSlice(s, pos, pos + take);
          if (!c) continue;
          // Place it in the destination, splitting where it crosses a destination chunk boundary.
          eachChunk(offOut + done + (c.pos - pos), c.len, (di, dpos, dn, dd) =>
            pieces.push([di, { pos: dpos, id: c.id, size: c.size, off: c.off + dd, len: dn }]),
          );
        }
        done += take;
      }
      for (const [indx, s] of pieces) {
        await tx.appendSlice(fout, indx, s);
        if (s.id) await tx.addSliceRef(s.id, s.size, 1);
      }
      const t = stamp();
      if (end > aout.length) {
        if (grow > 0) await tx.incrCounter('usedSpace', grow);
        aout.length = end;
      }
      touch(aout, t);
      await tx.setAttr(fout, aout);
      return { attr: aout, copied: n };
    });
  }

  async replaceSlices(ino: number, indx: number, old: Slice[], merged: Slice): Promise<boolean> {
    const r = await this.change('compact', async (tx) => {
      const cur = await tx.getChunk(ino, indx);
      if (!startsWithSlices(cur, old)) return { ok: false };
      await tx.setChunk(ino, indx, [merged, ...cur.slice(old.length)]);
      if (merged.id) await tx.addSliceRef(merged.id, merged.size, 1);
      await this.releaseSlices(tx, old);
      return { ok: true };
    });
    return r.ok;
  }

  async listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>> {
    return this.eng.read((tx) => tx.listFragmentedChunks(minSlices, limit));
  }

  /** Frees the chunks of deleted files, a bounded number of chunks per transaction. */
  async processDeletedFiles(limit: number): Promise<number> {
    const files = await this.eng.read((tx) => tx.listDelFiles(limit));
    for (const f of files) {
      for (;;) {
        const left = await this.change('gc', async (tx) => {
          const indexes = await tx.listChunkIndexes(f.ino, 0);
          for (const indx of indexes.slice(0, 64)) await this.dropChunk(tx, f.ino, indx);
          if (indexes.length <= 64) await tx.delDelFile(f.ino);
          return { left: indexes.length > 64 };
        });
        if (!left.left) break;
      }
    }
    return files.length;
  }

  async pendingDeletedFiles(limit: number): Promise<Array<{ ino: number; length: number }>> {
    return this.eng.read((tx) => tx.listDelFiles(limit));
  }

  async pendingDeletedSlices(limit: number): Promise<DeletedSlice[]> {
    return this.eng.read((tx) => tx.listDelSlices(limit));
  }

  async ackDeletedSlices(ids: number[]): Promise<void> {
    if (ids.length) await this.eng.txn((tx) => tx.delDelSlices(ids));
  }
}
