// A bucket's lifecycle configuration: read from a LifecycleConfiguration document (checked as S3 checks
// it), kept as JSON in an extended attribute of the bucket's directory, written back as XML, and the
// questions the background job (lifecycle-job.ts) asks of it: is this object, or this upload, due.
import { randomBytes } from 'node:crypto';
import { s3err } from './errors.js';
import { child, childText, parseXml, type XElem, type XmlLimits, type XmlNode } from './xml.js';

export const XATTR_LIFECYCLE = 'user.s3.lifecycle';

/** How a rule's filter was written (so GetBucketLifecycleConfiguration gives back what was put). */
type FilterForm = 'legacy' | 'empty' | 'prefix' | 'tag' | 'and' | 'gt' | 'lt';

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  form: FilterForm;
  prefix: string;
  tags: Array<[string, string]>;
  sizeGt?: number;
  sizeLt?: number;
  expiration?: { days?: number; date?: string; deleteMarker?: boolean };
  abortDays?: number;
  /** Accepted and kept: it has nothing to act on (objects here have only their current, null version). */
  noncurrent?: { days?: number; newer?: number };
}

/** 1000 rules of a few hundred bytes each. */
export const LIFECYCLE_LIMITS: XmlLimits = { maxBytes: 512 * 1024, maxTags: 40_000, maxDepth: 8 };
const MAX_RULES = 1000;
const DAY_MS = 86_400_000;

function positive(text: string | undefined, what: string): number {
  const n = Number(text?.trim());
  if (!/^\d+$/.test(text?.trim() ?? '') || n < 1 || n > 2 ** 31 - 1) throw s3err('InvalidArgument', `'${what}' must be a positive integer`);
  return n;
}

function size(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw s3err('MalformedXML');
  return Number(text);
}

function tagOf(t: XElem): [string, string] {
  const k = child(t, 'Key');
  const v = child(t, 'Value');
  if (!k || !v) throw s3err('MalformedXML');
  return [k.text, v.text];
}

function readFilter(rule: LifecycleRule, f: XElem): void {
  if (f.children.length === 0) {
    rule.form = 'empty';
    return;
  }
  if (f.children.length > 1) throw s3err('MalformedXML', 'A Filter must have exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And.');
  const [e] = f.children as [XElem];
  switch (e.name) {
    case 'Prefix':
      rule.form = 'prefix';
      rule.prefix = e.text;
      return;
    case 'Tag':
      rule.form = 'tag';
      rule.tags = [tagOf(e)];
      return;
    case 'ObjectSizeGreaterThan':
      rule.form = 'gt';
      rule.sizeGt = size(e.text);
      return;
    case 'ObjectSizeLessThan':
      rule.form = 'lt';
      rule.sizeLt = size(e.text);
      return;
    case 'And':
      rule.form = 'and';
      for (const a of e.children) {
        if (a.name === 'Prefix') rule.prefix = a.text;
        else if (a.name === 'Tag') rule.tags.push(tagOf(a));
        else if (a.name === 'ObjectSizeGreaterThan') rule.sizeGt = size(a.text);
        else if (a.name === 'ObjectSizeLessThan') rule.sizeLt = size(a.text);
        else throw s3err('MalformedXML');
      }
      return;
  }
  throw s3err('MalformedXML');
}

function readRule(r: XElem): LifecycleRule {
  const known = ['ID', 'Status', 'Filter', 'Prefix', 'Expiration', 'AbortIncompleteMultipartUpload', 'NoncurrentVersionExpiration', 'Transition', 'NoncurrentVersionTransition'];
  if (r.children.some((c) => !known.includes(c.name))) throw s3err('MalformedXML');
  if (child(r, 'Transition') || child(r, 'NoncurrentVersionTransition')) {
    throw s3err('NotImplemented', 'Lifecycle transitions (storage classes) are not implemented by this gateway: only Expiration and AbortIncompleteMultipartUpload.');
  }
  const status = childText(r, 'Status')?.trim();
  if (status !== 'Enabled' && status !== 'Disabled') throw s3err('MalformedXML');
  const id = childText(r, 'ID') ?? randomBytes(24).toString('base64url');
  if (id.length > 255) throw s3err('InvalidArgument', 'ID length should not exceed allowed limit of 255');
  const rule: LifecycleRule = { id, enabled: status === 'Enabled', form: 'legacy', prefix: '', tags: [] };
  const f = child(r, 'Filter');
  const p = child(r, 'Prefix');
  if (f && p) throw s3err('MalformedXML');
  if (f) readFilter(rule, f);
  else if (p) rule.prefix = p.text;
  else throw s3err('MalformedXML');
  if (rule.sizeGt !== undefined && rule.sizeLt !== undefined && rule.sizeGt >= rule.sizeLt) throw s3err('InvalidArgument', 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan');
  const ex = child(r, 'Expiration');
  if (ex) {
    const days = childText(ex, 'Days');
    const date = childText(ex, 'Date');
    const dm = childText(ex, 'ExpiredObjectDeleteMarker');
    if ([days, date, dm].filter((x) => x !== undefined).length !== 1) throw s3err('MalformedXML');
    if (days !== undefined) rule.expiration = { days: positive(days, 'Days') };
    if (date !== undefined) {
      const t = Date.parse(date.trim());
      if (!/^\d{4}-\d{2}-\d{2}T/.test(date.trim()) || Number.isNaN(t)) throw s3err('InvalidArgument', 'Invalid date: Date must be in ISO 8601 format');
      if (t % DAY_MS !== 0) throw s3err('InvalidArgument', "'Date' must be at midnight GMT");
      rule.expiration = { date: new Date(t).toISOString() };
    }
    if (dm !== undefined) {
      if (dm.trim() !== 'true' && dm.trim() !== 'false') throw s3err('MalformedXML');
      if (rule.tags.length) throw s3err('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with tags.');
      rule.expiration = { deleteMarker: dm.trim() === 'true' };
    }
  }
  const ab = child(r, 'AbortIncompleteMultipartUpload');
  if (ab) {
    if (rule.tags.length) throw s3err('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags.');
    rule.abortDays = positive(childText(ab, 'DaysAfterInitiation'), 'DaysAfterInitiation');
  }
  const nc = child(r, 'NoncurrentVersionExpiration');
  if (nc) {
    const d = childText(nc, 'NoncurrentDays');
    const n = childText(nc, 'NewerNoncurrentVersions');
    rule.noncurrent = { ...(d !== undefined ? { days: positive(d, 'NoncurrentDays') } : {}), ...(n !== undefined ? { newer: positive(n, 'NewerNoncurrentVersions') } : {}) };
  }
  if (!ex && !ab && !nc) throw s3err('InvalidRequest', 'At least one action needs to be specified in a rule');
  return rule;
}

/** The rules of a LifecycleConfiguration document; MalformedXML, InvalidArgument, InvalidRequest or NotImplemented as S3 answers. */
export function lifecycleFromXml(text: string): LifecycleRule[] {
  let doc;
  try {
    doc = parseXml(text, LIFECYCLE_LIMITS);
  } catch {
    throw s3err('MalformedXML');
  }
  if (doc.name !== 'LifecycleConfiguration' || doc.children.some((c) => c.name !== 'Rule')) throw s3err('MalformedXML');
  if (doc.children.length === 0 || doc.children.length > MAX_RULES) throw s3err('MalformedXML');
  const rules = doc.children.map(readRule);
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw s3err('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule');
    ids.add(r.id);
  }
  return rules;
}

function tagXml([Key, Value]: [string, string]): XmlNode {
  return { Key, Value };
}

function filterXml(r: LifecycleRule): XmlNode {
  switch (r.form) {
    case 'legacy':
      return { Prefix: r.prefix };
    case 'empty':
      return { Filter: {} };
    case 'prefix':
      return { Filter: { Prefix: r.prefix } };
    case 'tag':
      return { Filter: { Tag: tagXml(r.tags[0]!) } };
    case 'gt':
      return { Filter: { ObjectSizeGreaterThan: r.sizeGt } };
    case 'lt':
      return { Filter: { ObjectSizeLessThan: r.sizeLt } };
    case 'and':
      return { Filter: { And: { ...(r.prefix ? { Prefix: r.prefix } : {}), Tag: r.tags.map(tagXml), ObjectSizeGreaterThan: r.sizeGt, ObjectSizeLessThan: r.sizeLt } } };
  }
}

export function lifecycleXml(rules: LifecycleRule[]): XmlNode {
  return {
    Rule: rules.map((r) => ({
      ID: r.id,
      ...filterXml(r),
      Status: r.enabled ? 'Enabled' : 'Disabled',
      ...(r.expiration
        ? { Expiration: r.expiration.days !== undefined ? { Days: r.expiration.days } : r.expiration.date !== undefined ? { Date: r.expiration.date } : { ExpiredObjectDeleteMarker: r.expiration.deleteMarker } }
        : {}),
      ...(r.noncurrent ? { NoncurrentVersionExpiration: { NoncurrentDays: r.noncurrent.days, NewerNoncurrentVersions: r.noncurrent.newer } } : {}),
      ...(r.abortDays !== undefined ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.abortDays } } : {}),
    })),
  };
}

/** `days` after `from`, rounded up to the next midnight UTC (how S3 dates an expiration or an abort). */
export function dueAfter(from: number, days: number): number {
  return Math.ceil((from + days * DAY_MS) / DAY_MS) * DAY_MS;
}

/** Whether an object (key, size, tags, last modified) is expired by rule at now. */
export function objectExpired(rule: LifecycleRule, o: { key: string; size: number; mtime: number; tags: () => Promise<Array<[string, string]>> }, now: number): Promise<boolean> | boolean {
  const ex = rule.expiration;
  if (!rule.enabled || !ex || (ex.days === undefined && ex.date === undefined)) return false;
  if (!o.key.startsWith(rule.prefix)) return false;
  if (rule.sizeGt !== undefined && !(o.size > rule.sizeGt)) return false;
  if (rule.sizeLt !== undefined && !(o.size < rule.sizeLt)) return false;
  const due = ex.days !== undefined ? dueAfter(o.mtime, ex.days) : Date.parse(ex.date!);
  if (now < due) return false;
  if (rule.tags.length === 0) return true;
  return o.tags().then((have) => rule.tags.every(([k, v]) => have.some(([hk, hv]) => hk === k && hv === v)));
}

/** Whether an upload of key initiated at `initiated` is due to be aborted by rule at now. */
export function uploadDue(rule: LifecycleRule, key: string, initiated: number, now: number): boolean {
  return rule.enabled && rule.abortDays !== undefined && key.startsWith(rule.prefix) && now >= dueAfter(initiated, rule.abortDays);
}
