// The visible map of a chunk: which bytes of which slice appear at each position, built from the chunk's
// slice list (oldest first; a later slice wins where slices overlap). Pure functions, no I/O.
import type { Slice } from '../meta/types.js';

/**
 * One run of the visible map: chunk positions [pos, pos+len) show bytes [off, off+len) of slice `id`
 * (stored size `size`). id 0 is a hole and reads as zeros. Same shape as a Slice, so it can be stored as one.
 */
export type Segment = Slice;

export function segmentEnd(s: Segment): number {
  return s.pos + s.len;
}

export function isHole(s: Segment): boolean {
  return s.id === 0;
}

/** The part of `s` inside chunk positions [from, to), or undefined when they do not meet. */
export function clipSegment(s: Segment, from: number, to: number): Segment | undefined {
  const start = Math.max(s.pos, from);
  const end = Math.min(s.pos + s.len, to);
  if (end <= start) return undefined;
  return { pos: start, id: s.id, size: s.id === 0 ? 0 : s.size, off: s.id === 0 ? 0 : s.off + (start - s.pos), len: end - start };
}

function hole(pos: number, len: number): Segment {
  return { pos, id: 0, size: 0, off: 0, len };
}

/** Index of the first segment ending after `pos` in a sorted, non-overlapping list. */
function firstEndingAfter(segs: Segment[], pos: number): number {
  let lo = 0;
  let hi = segs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (segmentEnd(segs[mid]!) <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Lays `s` over a sorted, non-overlapping list in place: whatever it covers is cut away. */
function overlay(segs: Segment[], s: Segment): void {
  const a = s.pos;
  const b = s.pos + s.len;
  const i = firstEndingAfter(segs, a);
  let j = i;
  const replacement: Segment[] = [];
  while (j < segs.length && segs[j]!.pos < b) {
    const cur = segs[j]!;
    if (cur.pos < a) replacement.push(clipSegment(cur, cur.pos, a)!);
    j++;
  }
  replacement.push({ ...s, size: s.id === 0 ? 0 : s.size, off: s.id === 0 ? 0 : s.off });
  if (j > i) {
    const last = segs[j - 1]!;
    if (segmentEnd(last) > b) replacement.push(clipSegment(last, b, segmentEnd(last))!);
  }
  segs.splice(i, j - i, ...replacement);
}

/** True when `b` continues `a` seamlessly (same hole, or the next bytes of the same slice). */
function continues(a: Segment, b: Segment): boolean {
  if (segmentEnd(a) !== b.pos || a.id !== b.id) return false;
  return a.id === 0 || (a.size === b.size && a.off + a.len === b.off);
}

/**
 * The visible map of a chunk: ordered, non-overlapping segments covering [0, end) without gaps, where end is
 * the furthest position any slice reaches. Uncovered gaps and id-0 slices become holes; neighbours that
 * continue each other are merged.
 */
export function buildSliceMap(slices: readonly Slice[]): Segment[] {
  const segs: Segment[] = [];
  for (const s of slices) {
    if (s.len > 0) overlay(segs, s);
  }
  const out: Segment[] = [];
  let pos = 0;
  for (const s of segs) {
    if (s.pos > pos) push(out, hole(pos, s.pos - pos));
    push(out, s);
    pos = segmentEnd(s);
  }
  return out;
}

function push(out: Segment[], s: Segment): void {
  const last = out[out.length - 1];
  if (last && continues(last, s)) out[out.length - 1] = { ...last, len: last.len + s.len };
  else out.push({ ...s });
}

/** Where the map ends (0 for an empty chunk). */
export function mapEnd(map: readonly Segment[]): number {
  return map.length === 0 ? 0 : segmentEnd(map[map.length - 1]!);
}

/**
 * The segments covering chunk positions [from, to) exactly: clipped at both ends, holes where the map has
 * holes or stops short of `to`.
 */
export function segmentsInRange(map: readonly Segment[], from: number, to: number): Segment[] {
  const out: Segment[] = [];
  if (to <= from) return out;
  let i = firstEndingAfter(map as Segment[], from);
  let pos = from;
  while (i < map.length && map[i]!.pos < to) {
    const c = clipSegment(map[i]!, from, to)!;
    if (c.pos > pos) out.push(hole(pos, c.pos - pos));
    out.push(c);
    pos = segmentEnd(c);
    i++;
  }
  if (pos < to) out.push(hole(pos, to - pos));
  return out;
}

/** The part of the map holding data (first to last non-hole byte), or undefined when it is all holes. */
export function dataExtent(map: readonly Segment[]): { start: number; end: number } | undefined {
  let first: Segment | undefined;
  let last: Segment | undefined;
  for (const s of map) {
    if (s.id === 0) continue;
    first ??= s;
    last = s;
  }
  if (!first || !last) return undefined;
  return { start: first.pos, end: segmentEnd(last) };
}

/** Reads `len` bytes at chunk position `pos` through the map from an in-memory slice table (for tests/tools). */
export function materialize(map: readonly Segment[], pos: number, len: number, data: (id: number) => Buffer): Buffer {
  const out = Buffer.alloc(len);
  for (const s of segmentsInRange(map, pos, pos + len)) {
    if (s.id === 0) continue;
    data(s.id).copy(out, s.pos - pos, s.off, s.off + s.len);
  }
  return out;
}
