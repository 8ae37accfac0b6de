// Just enough XML for the S3 API: building responses, and reading the few small request bodies S3 has
// (CompleteMultipartUpload, Delete, CreateBucketConfiguration). Request bodies are capped by the caller.

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export type XmlValue = string | number | boolean | undefined | null | XmlNode | XmlNode[];
export interface XmlNode {
  [tag: string]: XmlValue | XmlValue[];
}

function render(tag: string, v: XmlValue | XmlValue[]): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => render(tag, x)).join('');
  if (typeof v === 'object') return `<${tag}>${Object.entries(v).map(([t, c]) => render(t, c)).join('')}</${tag}>`;
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

function unesc(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos') return "'";
    return String.fromCodePoint(l.startsWith('#x') ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10));
  });
}

/** Parses a small XML document into elements (namespaces prefixes dropped); throws on malformed input. */
export function parseXml(src: string): XElem {
  let i = 0;
  const root: XElem = { name: '#root', children: [], text: '' };
  const stack: XElem[] = [root];
  const local = (n: string) => n.slice(n.indexOf(':') + 1);
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      stack[stack.length - 1]!.text += unesc(src.slice(i));
      break;
    }
    if (lt > i) stack[stack.length - 1]!.text += unesc(src.slice(i, lt));
    if (src.startsWith('<?', lt)) {
      i = src.indexOf('?>', lt) + 2;
    } else if (src.startsWith('<!--', lt)) {
      i = src.indexOf('-->', lt) + 3;
    } else if (src.startsWith('<![CDATA[', lt)) {
      const end = src.indexOf(']]>', lt);
      if (end < 0) throw new Error('unterminated CDATA');
      stack[stack.length - 1]!.text += src.slice(lt + 9, end);
      i = end + 3;
    } else if (src.startsWith('</', lt)) {
      const gt = src.indexOf('>', lt);
      const name = local(src.slice(lt + 2, gt).trim());
      const top = stack.pop();
      if (!top || top.name !== name || stack.length === 0) throw new Error(`mismatched </${name}>`);
      i = gt + 1;
    } else {
      const gt = src.indexOf('>', lt);
      if (gt < 0) throw new Error('unterminated tag');
      const raw = src.slice(lt + 1, gt);
      const selfClose = raw.endsWith('/');
      const name = local(raw.replace(/\/$/, '').trim().split(/\s+/)[0]!);
      const el: XElem = { name, children: [], text: '' };
      stack[stack.length - 1]!.children.push(el);
      if (!selfClose) stack.push(el);
      i = gt + 1;
    }
    if (i <= 0) throw new Error('malformed XML');
  }
  if (stack.length !== 1 || root.children.length !== 1) throw new Error('malformed XML');
  return root.children[0]!;
}

export function child(e: XElem, name: string): XElem | undefined {
  return e.children.find((c) => c.name === name);
}

export function childText(e: XElem, name: string): string | undefined {
  return child(e, name)?.text;
}
