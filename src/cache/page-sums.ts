// A crc32c per page of each block a cache group member checked whole against the volume's block checksum
// (when it took the block in): a range of the block is then read from the member's cache page by page and
// each page checked against these sums before it is sent, so a block that rotted in the cache after it was
// checked is caught without reading all of it. Kept in memory (4 bytes per 16 KiB page: 1 KiB per 4 MiB
// block); a restarted member checks each block whole again on its first range.
import { crc32c } from '../object/transforms/native.js';

export const PAGE = 16 << 10;

export interface BlockSums {
  /** Bytes in the stored block. */
  size: number;
  sums: Uint32Array;
}

export class PageSums {
  /** key -> sums; insertion order is recency (the oldest go first past `max`). */
  private readonly map = new Map<string, BlockSums>();

  constructor(private readonly max = 65536) {}

  get(key: string): BlockSums | undefined {
    const s = this.map.get(key);
    if (s) {
      this.map.delete(key);
      this.map.set(key, s);
    }
    return s;
  }

  /** Takes the sums of a block that was just checked whole. */
  add(key: string, block: Buffer): BlockSums {
    const n = Math.ceil(block.length / PAGE);
    const sums = new Uint32Array(n);
    for (let p = 0; p < n; p++) sums[p] = crc32c(block.subarray(p * PAGE, Math.min(block.length, (p + 1) * PAGE))) >>> 0;
    const s = { size: block.length, sums };
    this.map.delete(key);
    this.map.set(key, s);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
    return s;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}

/** The whole pages covering [off, off+len) of a block of `size` bytes (len < 0: to its end). */
export function pagesOf(size: number, off: number, len: number): { start: number; end: number; from: number; to: number } {
  const start = Math.min(off, size);
  const end = len < 0 ? size : Math.min(size, start + len);
  const from = Math.floor(start / PAGE) * PAGE;
  const to = end === start ? from : Math.min(size, Math.ceil(end / PAGE) * PAGE);
  return { start, end, from, to };
}

/** True when every page of `bytes` (the block's bytes from page-aligned `from`) matches its sum. */
export function pagesSound(s: BlockSums, from: number, bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += PAGE) {
    const p = (from + at) / PAGE;
    if ((crc32c(bytes.subarray(at, Math.min(bytes.length, at + PAGE))) >>> 0) !== s.sums[p]) return false;
  }
  return true;
}
