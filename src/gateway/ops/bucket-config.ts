// Bucket configurations kept in extended attributes of the bucket's directory (CORS, lifecycle): who may
// change and read them (the bucket's owner, as S3's default bucket policy has it, and uid 0), and the
// integrity check S3 demands of their bodies.
import { isFsError } from '../../errors.js';
import { hdr, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { s3Rethrow } from '../objects.js';
import type { Node } from '../paths.js';

/** The bucket, when the caller owns it (or is root); AccessDenied otherwise, NoSuchBucket when there is none. */
export async function ownedBucket(s: Services, c: Call): Promise<Node> {
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  if (c.who.uid !== 0 && c.who.uid !== b.attr.uid) throw s3err('AccessDenied');
  return b;
}

/** S3 refuses these configuration PUTs without Content-MD5 or a flexible checksum (it then checks them as for any body). */
export function requireIntegrity(c: Call): void {
  const h = c.req.headers;
  const trailer = hdr(c.req, 'x-amz-trailer') ?? '';
  if (h['content-md5'] === undefined && !Object.keys(h).some((k) => k.startsWith('x-amz-checksum-') && k !== 'x-amz-checksum-algorithm') && !/x-amz-checksum-/i.test(trailer)) {
    throw s3err('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  }
}

export async function readConfig(s: Services, ino: number, name: string): Promise<string | undefined> {
  try {
    return (await s.root.getxattr(ino, name)).toString();
  } catch (e) {
    if (isFsError(e, 'ENODATA')) return undefined;
    s3Rethrow(e);
  }
}

/** Stored as the gateway (root): the owner's right to change it was checked by ownedBucket, not by the directory's mode. */
export async function writeConfig(s: Services, c: Call, ino: number, name: string, value: string | undefined): Promise<void> {
  // A read-only or append-only key changes no configuration (a lifecycle rule would delete its objects).
  const limit = c.who.view.ctx.limit;
  if (limit && limit.access !== 'rw') throw s3err('AccessDenied', 'This access key may not change bucket configurations.');
  try {
    if (value !== undefined) await s.root.setxattr(ino, name, value);
    else await s.root.removexattr(ino, name);
  } catch (e) {
    if (value === undefined && isFsError(e, 'ENODATA')) return;
    s3Rethrow(e);
  }
}
