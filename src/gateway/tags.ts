// S3 tags of objects and buckets: parsed from a Tagging document or an x-amz-tagging header, checked
// against S3's limits (InvalidTag), and kept in an extended attribute of the file or directory, so they
// follow the file through a rename over POSIX as its other xattrs do.
import { isFsError } from '../errors.js';
import type { VfsView } from '../vfs/view.js';
import { s3err } from './errors.js';
import { s3Rethrow } from './objects.js';
import { child, parseXml, type XmlLimits, type XmlNode } from './xml.js';

export const XATTR_TAGS = 'user.s3.tags';

/** Tags in the order they were given. */
export type Tags = Array<[string, string]>;

export const MAX_OBJECT_TAGS = 10;
export const MAX_BUCKET_TAGS = 50;

/** A Tagging document: at most 50 tags of at most 128 + 256 characters, each with a little markup. */
export const TAGGING_LIMITS: XmlLimits = { maxBytes: 64 * 1024, maxTags: 1000, maxDepth: 8 };

// S3's tag character set: letters, digits, spaces and + - = . _ : / @ (any script).
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Checks tags against S3's rules for an object or a bucket; InvalidTag (or BadRequest for too many) otherwise. */
export function checkTags(tags: Tags, kind: 'object' | 'bucket'): Tags {
  const max = kind === 'object' ? MAX_OBJECT_TAGS : MAX_BUCKET_TAGS;
  if (tags.length > max) {
    throw kind === 'object' ? s3err('BadRequest', `Object tags cannot be greater than ${max}`) : s3err('InvalidTag', `Bucket tag count cannot be greater than ${max}`);
  }
  const seen = new Set<string>();
  for (const [k, v] of tags) {
    const klen = [...k].length;
    if (klen < 1 || klen > 128) throw s3err('InvalidTag', 'The TagKey you have provided is too long, max 128' + (klen < 1 ? ' (and it cannot be empty)' : ''));
    if ([...v].length > 256) throw s3err('InvalidTag', 'The TagValue you have provided is too long, max 256');
    if (!TAG_CHARS.test(k) || !TAG_CHARS.test(v)) throw s3err('InvalidTag', 'The TagKey or TagValue you have provided is invalid');
    if (k.toLowerCase().startsWith('aws:')) throw s3err('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (seen.has(k)) throw s3err('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(k);
  }
  return tags;
}

/** The x-amz-tagging header: `k1=v1&k2=v2`, form-URL-encoded. */
export function tagsFromHeader(v: string | undefined): Tags | undefined {
  if (v === undefined) return undefined;
  const tags: Tags = [];
  for (const part of v.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        throw s3err('InvalidArgument', 'The header x-amz-tagging is not form-URL-encoded.');
      }
    };
    tags.push(eq < 0 ? [dec(part), ''] : [dec(part.slice(0, eq)), dec(part.slice(eq + 1))]);
  }
  return checkTags(tags, 'object');
}

/** A `<Tagging><TagSet><Tag><Key/><Value/></Tag>...` document. */
export function tagsFromXml(text: string, kind: 'object' | 'bucket'): Tags {
  let tags: Tags;
  try {
    const doc = parseXml(text, TAGGING_LIMITS);
    if (doc.name !== 'Tagging') throw new Error('root');
    const set = child(doc, 'TagSet');
    if (!set) throw new Error('TagSet');
    tags = set.children.map((t) => {
      if (t.name !== 'Tag') throw new Error('Tag');
      const k = child(t, 'Key');
      const v = child(t, 'Value');
      if (!k || !v) throw new Error('Key/Value');
      return [k.text, v.text] as [string, string];
    });
  } catch {
    throw s3err('MalformedXML');
  }
  return checkTags(tags, kind);
}

export function tagsXml(tags: Tags): XmlNode {
  return { TagSet: { Tag: tags.map(([Key, Value]) => ({ Key, Value })) } };
}

export async function readTags(view: VfsView, ino: number): Promise<Tags> {
  try {
    const v = JSON.parse((await view.getxattr(ino, XATTR_TAGS)).toString()) as unknown;
    return Array.isArray(v) ? (v as Tags) : [];
  } catch (e) {
    if (isFsError(e) || e instanceof SyntaxError) return [];
    throw e;
  }
}

/** Replaces the tags of ino (none: removes the attribute). */
export async function writeTags(view: VfsView, ino: number, tags: Tags): Promise<void> {
  try {
    if (tags.length) await view.setxattr(ino, XATTR_TAGS, JSON.stringify(tags));
    else await view.removexattr(ino, XATTR_TAGS).catch((e) => {
      if (!isFsError(e, 'ENODATA')) throw e;
    });
  } catch (e) {
    s3Rethrow(e);
  }
}
