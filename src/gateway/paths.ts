// Buckets are top-level directories and keys are paths under them. Checks names, and resolves them
// inode by inode (symlinks are not followed: they are not objects).
import { FsError } from '../errors.js';
import { isDirectory, type Attr, type VfsView } from '../vfs/view.js';
import { s3err } from './errors.js';

/** The hidden per-volume directory of the gateway: never a bucket (bucket names cannot start with '.'). */
export const GATEWAY_DIR = '.ferry-gateway';
export const TMP_DIR = `/${GATEWAY_DIR}/tmp`;
export const UPLOADS_DIR = `/${GATEWAY_DIR}/uploads`;

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function validBucketName(b: string): boolean {
  return BUCKET_RE.test(b) && !b.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(b);
}

/**
 * A bucket named in a request (after percent-decoding). Buckets that exist but were made outside S3 may have
 * other names than CreateBucket allows; what is never a bucket: '.', '..' (the volume root, or above it),
 * any dot name (the gateway's own .ferry-gateway among them), a name with '/' or NUL (a path, not a name).
 */
export function checkBucketName(b: string, creating: boolean): void {
  const ok = creating ? validBucketName(b) : b !== '' && !b.startsWith('.') && !/[/\0]/.test(b) && Buffer.byteLength(b) <= 255;
  if (!ok) throw s3err('InvalidBucketName', undefined, { BucketName: b });
}

export interface KeyPath {
  /** Path components below the bucket (for a marker key, the directory's). */
  parts: string[];
  /** A key ending in '/': a directory marker. */
  marker: boolean;
}

export function parseKey(key: string): KeyPath {
  if (Buffer.byteLength(key) > 1024) throw s3err('KeyTooLongError');
  const marker = key.endsWith('/');
  const parts = (marker ? key.slice(0, -1) : key).split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\0')) throw s3err('XFerryInvalidObjectName', undefined, { Key: key });
    if (Buffer.byteLength(p) > 255) throw s3err('KeyTooLongError');
  }
  return { parts, marker };
}

export function keyPath(bucket: string, parts: string[]): string {
  return '/' + [bucket, ...parts].join('/');
}

export interface Node {
  ino: number;
  attr: Attr;
}

/** The bucket's directory, or NoSuchBucket. */
export async function bucketNode(view: VfsView, bucket: string): Promise<Node> {
  try {
    const r = await view.lookup(view.root, bucket);
    if (!isDirectory(r.attr)) throw s3err('NoSuchBucket', undefined, { BucketName: bucket });
    return { ino: r.inode, attr: r.attr };
  } catch (e) {
    if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENAMETOOLONG')) throw s3err('NoSuchBucket', undefined, { BucketName: bucket });
    throw e;
  }
}

/** Walks parts from a directory; undefined when a component is missing or not a directory on the way. */
export async function walkParts(view: VfsView, from: number, parts: string[]): Promise<Node | undefined> {
  let cur: Node = { ino: from, attr: await view.getattr(from) };
  for (const p of parts) {
    if (!isDirectory(cur.attr)) return undefined;
    try {
      const r = await view.lookup(cur.ino, p);
      cur = { ino: r.inode, attr: r.attr };
    } catch (e) {
      if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
      throw e;
    }
  }
  return cur;
}
