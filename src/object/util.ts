// Semantics every backend shares, so they agree with each other and with S3.
import { createHash } from 'node:crypto';
import { FsError } from '../errors.js';
import type { ObjectInfo, ObjectStore, Part } from './interface.js';

/** S3's multipart limits; backends without their own enforce the same so callers stay portable. */
export const MIN_PART_SIZE = 5 << 20;
export const MAX_PART_COUNT = 10000;
export const DEFAULT_LIST_LIMIT = 1000;

/**
 * Orders keys by their UTF-8 bytes, as S3 lists them. That is code point order; JS `<` compares
 * UTF-16 units, which differs only where a surrogate meets U+E000..U+FFFF, so those are swapped.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

export function noSuchObject(key: string): FsError {
  return new FsError('ENOENT', { message: 'no such object', path: key });
}

export function noSuchUpload(uploadId: string): FsError {
  return new FsError('ENOENT', { message: 'no such multipart upload', path: uploadId });
}

export function invalid(message: string): FsError {
  return new FsError('EINVAL', { message });
}

/** The [start, end) byte span of a ranged get on an object of `size` bytes, clipped to the object. */
export function span(size: number, off: number, len: number): [number, number] {
  if (!Number.isSafeInteger(off) || off < 0 || !Number.isSafeInteger(len)) {
    throw invalid(`bad range: offset ${off}, length ${len}`);
  }
  const start = Math.min(off, size);
  return [start, len < 0 ? size : Math.min(size, start + len)];
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw invalid(`bad list limit ${limit}`);
}

/** Pages through `list` so no backend needs its own iterator. */
export async function* listAll(store: Pick<ObjectStore, 'list'>, prefix: string): AsyncGenerator<ObjectInfo> {
  let marker: string | undefined;
  for (;;) {
    const page = await store.list(prefix, marker);
    yield* page.objects;
    if (!page.isTruncated || page.objects.length === 0) return;
    marker = page.nextMarker ?? page.objects[page.objects.length - 1].key;
  }
}

/** Like S3's ETag of a single-part upload. */
export function etagOf(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function checkPartNum(num: number): void {
  if (!Number.isInteger(num) || num < 1 || num > MAX_PART_COUNT) {
    throw invalid(`part number ${num} is outside 1..${MAX_PART_COUNT}`);
  }
}

/** Validates a completion list as S3 does: ascending part numbers, only the last part may be small. */
export function checkParts(parts: Part[]): void {
  if (parts.length === 0) throw invalid('a multipart upload needs at least one part');
  parts.forEach((p, i) => {
    checkPartNum(p.num);
    if (i > 0 && p.num <= parts[i - 1].num) throw invalid('multipart parts must be in ascending order');
    if (i < parts.length - 1 && p.size < MIN_PART_SIZE) {
      throw invalid(`part ${p.num} is ${p.size} bytes, below the ${MIN_PART_SIZE}-byte minimum`);
    }
  });
}
