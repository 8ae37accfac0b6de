// Just enough XML for the S3 API: building responses, and reading the few small request bodies S3 has
// (CompleteMultipartUpload, Delete, CreateBucketConfiguration) with fast-xml-parser under hard limits.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;', '\n': '&#10;' };

/**
 * Escapes text for an element or attribute. CR and LF become references so a parser's line-end
 * normalisation cannot change a key; the other C0 controls and U+FFFE/U+FFFF, which XML 1.0 cannot carry
 * raw, are written as references too (as S3 does; clients that need them exact ask for encoding-type=url).
 */
export function esc(s: string): string {
  return s.replace(/[&<>"'\x00-\x08\x0a-\x1f\ufffe\uffff]/g, (c) => ESC[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

export type XmlValue = string | number | boolean | undefined | null | XmlNode | XmlNode[];
export interface XmlNode {
  [tag: string]: XmlValue | XmlValue[];
}

/** An element's object: keys starting with '@' are its attributes (`{ '@xsi:type': 'CanonicalUser' }`), the rest its children. */
function render(tag: string, v: XmlValue | XmlValue[]): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => render(tag, x)).join('');
  if (typeof v === 'object') {
    const entries = Object.entries(v);
    const attrs = entries.filter(([t]) => t.startsWith('@')).map(([t, c]) => ` ${t.slice(1)}="${esc(String(c))}"`).join('');
    return `<${tag}${attrs}>${entries.filter(([t]) => !t.startsWith('@')).map(([t, c]) => render(t, c)).join('')}</${tag}>`;
  }
  return `<${tag}>${esc(String(v))}</${tag}>`;
}

/** One S3 response document: `<Root xmlns=...>...</Root>`. */
export function xmlDoc(root: string, body: XmlNode): string {
  const inner = Object.entries(body).map(([t, c]) => render(t, c)).join('');
  // Error documents carry no namespace in S3, and botocore only recognises them without one.
  const ns = root === 'Error' ? '' : ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${inner}</${root}>`;
}

export interface XElem {
  name: string;
  children: XElem[];
  text: string;
}

/** What a request body may be: refused before parsing when larger, deeper or with more tags. */
export interface XmlLimits {
  /** Bytes of the body (refused with MaxMessageLengthExceeded before it is read further). */
  maxBytes: number;
  /** `<` characters: bounds the elements, comments and PIs, hence the memory of the parsed tree. */
  maxTags: number;
  maxDepth: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Per request body, from S3's own limits. DeleteObjects: 1000 objects of a 1024-byte key (5 KiB when every
 * byte is written `&amp;`) and six elements each. CompleteMultipartUpload: 10000 parts of PartNumber, ETag
 * and a checksum (~300 bytes). CreateBucketConfiguration: a location and a few tags.
 */
export const XML_LIMITS = {
  DeleteObjects: { maxBytes: 6 * MiB, maxTags: 20_000, maxDepth: 8 },
  CompleteMultipartUpload: { maxBytes: 4 * MiB, maxTags: 200_000, maxDepth: 8 },
  CreateBucket: { maxBytes: 64 * KiB, maxTags: 1000, maxDepth: 8 },
} satisfies Record<string, XmlLimits>;

const DEFAULT_LIMITS: XmlLimits = { maxBytes: 2 * MiB, maxTags: 40_000, maxDepth: 16 };

/** The five predefined entities and character references; anything else (DTD entities included) is refused. */
function unesc(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&]*);?/g, (ref: string, e: string) => {
    if (!ref.endsWith(';')) throw new Error('bare & in text');
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(e);
    if (!m) throw new Error(`undeclared entity &${e};`);
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
    // NUL, surrogate halves and values past Unicode are not characters in any XML.
    if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) throw new Error(`bad character reference ${ref}`);
    return String.fromCodePoint(cp);
  });
}

// Text is kept exactly (keys may start or end with spaces); entities are ours to decode (see unesc), so the
// parser never expands one, and a DOCTYPE is refused before it is read.
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  cdataPropName: '#cdata',
});

type Ordered = Array<Record<string, unknown>>;

function toElem(name: string, nodes: Ordered, depth: number, max: number): XElem {
  if (depth > max) throw new Error('too deep');
  const el: XElem = { name, children: [], text: '' };
  for (const n of nodes) {
    for (const [k, v] of Object.entries(n)) {
      if (k === ':@') continue;
      if (k === '#text') el.text += unesc(String(v));
      else if (k === '#cdata') el.text += (v as Ordered).map((t) => String(t['#text'] ?? '')).join('');
      else el.children.push(toElem(k, v as Ordered, depth + 1, max));
    }
  }
  return el;
}

/**
 * Parses a request body into elements (namespace prefixes dropped, text with entities decoded); throws on
 * anything that is not one well-formed document within `limits` (callers answer MalformedXML). Linear in
 * the input: fast-xml-parser's validator, then its parser, both with bounded depth.
 */
export function parseXml(src: string, limits: XmlLimits = DEFAULT_LIMITS): XElem {
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
  if (src.length > limits.maxBytes) throw new Error('body too large');
  let tags = 0;
  for (let i = src.indexOf('<'); i >= 0; i = src.indexOf('<', i + 1)) if (++tags > limits.maxTags) throw new Error('too many elements');
  if (/<!DOCTYPE/i.test(src)) throw new Error('DOCTYPE is not allowed');
  const v = XMLValidator.validate(src);
  if (v !== true) throw new Error(`malformed XML: ${v.err.msg.slice(0, 200)} (line ${v.err.line})`);
  const nodes = parser.parse(src) as Ordered;
  const roots = nodes.flatMap((n) => Object.entries(n).filter(([k]) => k !== ':@' && k !== '#text' && k !== '#cdata'));
  if (roots.length !== 1) throw new Error('malformed XML: one root element expected');
  const [name, inner] = roots[0]!;
  return toElem(name, inner as Ordered, 1, limits.maxDepth);
}

export function child(e: XElem, name: string): XElem | undefined {
  return e.children.find((c) => c.name === name);
}

export function childText(e: XElem, name: string): string | undefined {
  return child(e, name)?.text;
}
