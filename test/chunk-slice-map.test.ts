// Unit tests of the visible map of a chunk: overlaps in every arrangement, holes, truncate-style id-0 slices.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockCount, blockKey, blockLength, sliceBlocks } from '../src/chunk/keys.js';
import { buildSliceMap, clipSegment, dataExtent, mapEnd, segmentsInRange, type Segment } from '../src/chunk/slice-map.js';
import type { Slice } from '../src/meta/types.js';
import { prng } from './helpers/random.js';

const sl = (pos: number, id: number, len: number, off = 0, size = off + len): Slice => ({ pos, id, size: id === 0 ? 0 : size, off, len });
const hole = (pos: number, len: number): Segment => ({ pos, id: 0, size: 0, off: 0, len });

/** Byte-by-byte painting: the reference the map must agree with. Each cell is [id, offset in slice] or 0. */
function paint(slices: Slice[], length: number): Array<string> {
  const cells = new Array<string>(length).fill('0');
  for (const s of slices) for (let i = 0; i < s.len; i++) cells[s.pos + i] = s.id === 0 ? '0' : `${s.id}:${s.off + i}`;
  return cells;
}

function render(map: Segment[], length: number): Array<string> {
  const cells = new Array<string>(length).fill('0');
  for (const s of map) for (let i = 0; i < s.len; i++) cells[s.pos + i] = s.id === 0 ? '0' : `${s.id}:${s.off + i}`;
  return cells;
}

function checkWellFormed(map: Segment[]): void {
  let pos = 0;
  for (const s of map) {
    assert.equal(s.pos, pos, 'segments are contiguous from 0');
    assert.ok(s.len > 0, 'no empty segment');
    if (s.id !== 0) assert.ok(s.off + s.len <= s.size, 'segment inside its slice');
    pos += s.len;
  }
  for (let i = 1; i < map.length; i++) {
    const a = map[i - 1]!;
    const b = map[i]!;
    assert.ok(!(a.id === 0 && b.id === 0), 'adjacent holes are merged');
  }
}

describe('block keys', () => {
  it('follows the DESIGN key format', () => {
    assert.equal(blockKey('vol', 1234567, 2, 4096), 'vol/chunks/1/1234/1234567_2_4096');
    assert.equal(blockKey('v', 5, 0, 10), 'v/chunks/0/0/5_0_10');
  });
  it('cuts a slice into ceil(size/blockSize) blocks, the last one shorter', () => {
    assert.equal(blockCount(0, 4), 0);
    assert.equal(blockCount(4, 4), 1);
    assert.equal(blockCount(9, 4), 3);
    assert.equal(blockLength(9, 4, 2), 1);
    assert.deepEqual(
      sliceBlocks('v', 7, 9, 4).map((b) => b.key),
      ['v/chunks/0/0/7_0_4', 'v/chunks/0/0/7_1_4', 'v/chunks/0/0/7_2_1'],
    );
  });
});

describe('buildSliceMap', () => {
  it('is empty for no slices', () => {
    assert.deepEqual(buildSliceMap([]), []);
    assert.equal(mapEnd([]), 0);
  });

  it('fills a leading gap with a hole', () => {
    assert.deepEqual(buildSliceMap([sl(10, 1, 5)]), [hole(0, 10), sl(10, 1, 5)]);
  });

  it('keeps disjoint slices with holes between them', () => {
    assert.deepEqual(buildSliceMap([sl(0, 1, 5), sl(8, 2, 2)]), [sl(0, 1, 5), hole(5, 3), sl(8, 2, 2)]);
  });

  it('newer slice inside an older one splits it in three', () => {
    assert.deepEqual(buildSliceMap([sl(0, 1, 10), sl(3, 2, 4)]), [sl(0, 1, 3, 0, 10), sl(3, 2, 4), sl(7, 1, 3, 7, 10)]);
  });

  it('newer slice covering an older one hides it completely', () => {
    assert.deepEqual(buildSliceMap([sl(3, 1, 4), sl(0, 2, 10)]), [sl(0, 2, 10)]);
  });

  it('exactly equal ranges: the newer wins', () => {
    assert.deepEqual(buildSliceMap([sl(2, 1, 4), sl(2, 2, 4)]), [hole(0, 2), sl(2, 2, 4)]);
  });

  it('overlap at the left and at the right', () => {
    assert.deepEqual(buildSliceMap([sl(5, 1, 10), sl(0, 2, 7)]), [sl(0, 2, 7), sl(7, 1, 8, 2, 10)]);
    assert.deepEqual(buildSliceMap([sl(0, 1, 10), sl(6, 2, 10)]), [sl(0, 1, 6, 0, 10), sl(6, 2, 10)]);
  });

  it('adjacent (touching) slices do not cut each other', () => {
    assert.deepEqual(buildSliceMap([sl(0, 1, 5), sl(5, 2, 5)]), [sl(0, 1, 5), sl(5, 2, 5)]);
  });

  it('one newer slice spanning several older ones and the gaps between', () => {
    const map = buildSliceMap([sl(0, 1, 4), sl(6, 2, 4), sl(12, 3, 4), sl(2, 4, 12)]);
    assert.deepEqual(map, [sl(0, 1, 2, 0, 4), sl(2, 4, 12), sl(14, 3, 2, 2, 4)]);
  });

  it('slices that reference part of a stored slice (off > 0) keep their offsets', () => {
    const map = buildSliceMap([{ pos: 10, id: 7, size: 100, off: 40, len: 20 }, sl(15, 8, 5)]);
    assert.deepEqual(map, [hole(0, 10), { pos: 10, id: 7, size: 100, off: 40, len: 5 }, sl(15, 8, 5), { pos: 20, id: 7, size: 100, off: 50, len: 10 }]);
  });

  it('a truncate-style hole (id 0) masks older data and later data shows over it', () => {
    // write 0..100, truncate to 30 (hole 30..100), write 50..60 again
    const map = buildSliceMap([sl(0, 1, 100), sl(30, 0, 70), sl(50, 2, 10)]);
    assert.deepEqual(map, [sl(0, 1, 30, 0, 100), hole(30, 20), sl(50, 2, 10), hole(60, 40)]);
    assert.equal(mapEnd(map), 100);
    assert.deepEqual(dataExtent(map), { start: 0, end: 60 });
  });

  it('merges neighbours that continue the same slice', () => {
    // the same slice referenced twice back to back (as copy_file_range can produce)
    const map = buildSliceMap([{ pos: 0, id: 3, size: 20, off: 0, len: 10 }, { pos: 10, id: 3, size: 20, off: 10, len: 10 }]);
    assert.deepEqual(map, [{ pos: 0, id: 3, size: 20, off: 0, len: 20 }]);
    // not when the offsets do not continue
    const apart = buildSliceMap([{ pos: 0, id: 3, size: 20, off: 0, len: 10 }, { pos: 10, id: 3, size: 20, off: 0, len: 10 }]);
    assert.equal(apart.length, 2);
  });

  it('ignores empty slices', () => {
    assert.deepEqual(buildSliceMap([sl(5, 1, 0)]), []);
  });

  it('agrees with byte painting on thousands of random slice lists', () => {
    const rand = prng(12345).int;
    const L = 64;
    for (let round = 0; round < 3000; round++) {
      const slices: Slice[] = [];
      const n = 1 + rand(12);
      for (let i = 0; i < n; i++) {
        const pos = rand(L);
        const len = 1 + rand(L - pos);
        const id = rand(5) === 0 ? 0 : i + 1;
        const off = rand(3) === 0 ? rand(10) : 0;
        slices.push(sl(pos, id, len, off, off + len + rand(5)));
      }
      const map = buildSliceMap(slices);
      checkWellFormed(map);
      assert.deepEqual(render(map, L), paint(slices, L), JSON.stringify(slices));
      const end = Math.max(...slices.map((s) => s.pos + s.len));
      assert.equal(mapEnd(map), end);
      // a random window reads the same through segmentsInRange
      const from = rand(L + 8);
      const to = from + rand(L + 8 - from + 1);
      const segs = segmentsInRange(map, from, to);
      let pos = from;
      for (const s of segs) {
        assert.equal(s.pos, pos);
        pos += s.len;
      }
      assert.equal(pos, Math.max(from, to));
      const whole = paint(slices, L + 16);
      const win = render(segs.map((s) => s), L + 16).slice(from, to);
      assert.deepEqual(win, whole.slice(from, to));
    }
  });
});

describe('segmentsInRange', () => {
  const map = buildSliceMap([sl(0, 1, 10), sl(20, 2, 10)]);

  it('clips at both ends', () => {
    assert.deepEqual(segmentsInRange(map, 5, 25), [sl(5, 1, 5, 5, 10), hole(10, 10), sl(20, 2, 5, 0, 10)]);
  });

  it('pads with a hole past the end of the map', () => {
    assert.deepEqual(segmentsInRange(map, 25, 40), [sl(25, 2, 5, 5, 10), hole(30, 10)]);
    assert.deepEqual(segmentsInRange([], 0, 7), [hole(0, 7)]);
  });

  it('returns nothing for an empty range', () => {
    assert.deepEqual(segmentsInRange(map, 5, 5), []);
  });

  it('clipSegment keeps holes without offsets', () => {
    assert.deepEqual(clipSegment(hole(0, 10), 3, 5), hole(3, 2));
    assert.equal(clipSegment(sl(0, 1, 4), 4, 9), undefined);
  });

  it('dataExtent is undefined when only holes remain', () => {
    assert.equal(dataExtent(buildSliceMap([sl(0, 0, 10)])), undefined);
  });
});
