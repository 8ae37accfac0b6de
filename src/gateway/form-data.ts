// A streaming multipart/form-data reader (RFC 7578) for S3's POST Object: the form fields before the file
// are read whole (within limits), the file part streams through without being held in memory.
// No parser of this format is among the project's dependencies (busboy and the like are not), and the
// gateway needs only this much of it: parts in order, their Content-Disposition name/filename and
// Content-Type, and a body that ends at the boundary.
import { s3err } from './errors.js';

export interface FormLimits {
  /** Bytes of one part's header block. */
  maxHeaderBytes: number;
  /** Bytes before the first boundary. */
  maxPreambleBytes: number;
}

export interface FormPart {
  /** The field name (Content-Disposition name). */
  name: string;
  filename?: string;
  contentType?: string;
  /** The part's content; read it to the end (or not at all: the next part skips what is left). */
  body: AsyncIterable<Buffer>;
}

const DEFAULTS: FormLimits = { maxHeaderBytes: 8 * 1024, maxPreambleBytes: 64 * 1024 };

function malformed(why: string): Error {
  return s3err('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data (${why}).`);
}

/** The boundary of a `multipart/form-data; boundary=...` Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;,"]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** `name="x"; filename="y"` parameters of a header value (quoted strings with backslash escapes, or tokens). */
function params(v: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(v); m; m = re.exec(v)) out.set(m[1]!.toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!.trim());
  return out;
}

class Reader {
  private buf: Buffer;
  private ended = false;
  constructor(private readonly it: AsyncIterator<Buffer>, first: Buffer) {
    this.buf = first;
  }

  get data(): Buffer {
    return this.buf;
  }

  consume(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Reads more; false at the end of the body. */
  async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** Waits until at least n bytes are buffered; false if the body ends first. */
  async need(n: number): Promise<boolean> {
    while (this.buf.length < n) if (!(await this.more())) return false;
    return true;
  }
}

/**
 * The parts of a multipart/form-data body, in order. A part's body must be read (or abandoned) before the
 * next part is asked for. Throws MalformedPOSTRequest for a body that is not one.
 */
export async function* readForm(src: AsyncIterable<Buffer>, boundary: string, limits: FormLimits = DEFAULTS): AsyncGenerator<FormPart> {
  // The first boundary may start the body: a CRLF put in front makes every delimiter "CRLF--boundary".
  const r = new Reader(src[Symbol.asyncIterator](), Buffer.from('\r\n'));
  const delim = Buffer.from(`\r\n--${boundary}`);
  // Preamble: everything before the first delimiter.
  for (;;) {
    const i = r.data.indexOf(delim);
    if (i >= 0) {
      r.consume(i + delim.length);
      break;
    }
    if (r.data.length > limits.maxPreambleBytes) throw malformed('no boundary');
    if (!(await r.more())) throw malformed('no boundary');
  }
  for (;;) {
    if (!(await r.need(2))) throw malformed('truncated after a boundary');
    const after = r.consume(2).toString('latin1');
    if (after === '--') return; // the closing delimiter: what follows is an epilogue
    if (after !== '\r\n') throw malformed('bad boundary line');
    // The part's header block, up to an empty line.
    let end: number;
    for (;;) {
      if (r.data.length >= 2 && r.data.indexOf('\r\n') === 0) throw malformed('a part without headers');
      end = r.data.indexOf('\r\n\r\n');
      if (end >= 0) break;
      if (r.data.length > limits.maxHeaderBytes) throw malformed('part headers too large');
      if (!(await r.more())) throw malformed('truncated part headers');
    }
    if (end > limits.maxHeaderBytes) throw malformed('part headers too large');
    const headerText = r.consume(end + 4).toString('utf8');
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      if (!line) continue;
      const c = line.indexOf(':');
      if (c <= 0) throw malformed('bad part header');
      headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
    }
    const cd = headers.get('content-disposition');
    if (!cd || !/^form-data\s*(;|$)/i.test(cd)) throw malformed('a part without Content-Disposition: form-data');
    const p = params(cd);
    const name = p.get('name');
    if (name === undefined) throw malformed('a part without a name');
    let finished = false;
    async function* body(): AsyncGenerator<Buffer> {
      for (;;) {
        const i = r.data.indexOf(delim);
        if (i >= 0) {
          if (i > 0) yield r.consume(i);
          r.consume(delim.length);
          finished = true;
          return;
        }
        // Keep what could be the start of a delimiter split across reads.
        const safe = r.data.length - (delim.length - 1);
        if (safe > 0) yield r.consume(safe);
        if (!(await r.more())) throw malformed('truncated part');
      }
    }
    const it = body();
    yield { name, filename: p.get('filename'), contentType: headers.get('content-type'), body: it };
    if (!finished) for await (const _ of it) void _; // what the caller left unread
  }
}

/** A part read whole, at most max bytes (a form field); MaxPostPreDataLengthExceeded beyond. */
export async function readField(part: FormPart, max: number): Promise<string> {
  const bufs: Buffer[] = [];
  let n = 0;
  for await (const b of part.body) {
    n += b.length;
    if (n > max) throw s3err('MaxPostPreDataLengthExceededError', 'Your POST request fields preceding the upload file were too large.');
    bufs.push(b);
  }
  return Buffer.concat(bufs).toString('utf8');
}
