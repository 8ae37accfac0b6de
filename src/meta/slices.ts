// Slice lists are stored packed (24 bytes each) so appending a slice is one cheap concatenation in any engine.
import type { Slice } from './types.js';

export const SLICE_BYTES = 24;

export function encodeSlice(s: Slice): Buffer {
  const b = Buffer.allocUnsafe(SLICE_BYTES);
  b.writeUInt32BE(s.pos, 0);
  b.writeBigUInt64BE(BigInt(s.id), 4);
  b.writeUInt32BE(s.size, 12);
  b.writeUInt32BE(s.off, 16);
  b.writeUInt32BE(s.len, 20);
  return b;
}

export function encodeSlices(list: Slice[]): Buffer {
  return Buffer.concat(list.map(encodeSlice));
}

export function decodeSlices(b: Buffer | Uint8Array | null | undefined): Slice[] {
  if (!b || b.length === 0) return [];
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out: Slice[] = [];
  for (let i = 0; i + SLICE_BYTES <= buf.length; i += SLICE_BYTES) {
    out.push({
      pos: buf.readUInt32BE(i),
      id: Number(buf.readBigUInt64BE(i + 4)),
      size: buf.readUInt32BE(i + 12),
      off: buf.readUInt32BE(i + 16),
      len: buf.readUInt32BE(i + 20),
    });
  }
  return out;
}

/** The part of slice s that falls in chunk positions [from, to), or undefined. */
export function clipSlice(s: Slice, from: number, to: number): Slice | undefined {
  const start = Math.max(s.pos, from);
  const end = Math.min(s.pos + s.len, to);
  if (end <= start) return undefined;
  return { pos: start, id: s.id, size: s.size, off: s.off + (start - s.pos), len: end - start };
}

/** True when `list` still begins with the slices of `prefix` (a chunk only appended to since it was read). */
export function startsWithSlices(list: readonly Slice[], prefix: readonly Slice[]): boolean {
  return (
    list.length >= prefix.length &&
    prefix.every((p, i) => {
      const q = list[i]!;
      return p.pos === q.pos && p.id === q.id && p.size === q.size && p.off === q.off && p.len === q.len;
    })
  );
}
