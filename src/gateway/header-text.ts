// Non-ASCII text in user metadata (x-amz-meta-*), as S3 documents it: values arrive either as raw UTF-8 bytes
// or as RFC 2047 encoded-words (=?UTF-8?B?...?=, what clients that refuse non-ASCII headers send, boto3 among
// them); both are stored as the Unicode text they mean (so POSIX readers of the xattr see real text), and a
// value that is not plain ASCII goes back RFC 2047-encoded (an HTTP header cannot carry it raw).
import { TextDecoder } from 'node:util';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, enc: string, text: string): string | undefined {
  const cs = charset.toLowerCase().replace(/\*.*$/, ''); // RFC 2231 language suffix
  if (cs !== 'utf-8' && cs !== 'us-ascii' && cs !== 'iso-8859-1') return undefined;
  const bytes = enc.toUpperCase() === 'B'
    ? Buffer.from(text, 'base64')
    : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  if (cs === 'iso-8859-1') return bytes.toString('latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A header value as node gives it (each byte one latin1 character) to the text it stands for. */
export function headerToText(raw: string): string {
  let v = raw;
  if (/[^\x00-\x7f]/.test(v)) {
    try {
      v = utf8.decode(Buffer.from(v, 'latin1'));
    } catch {
      /* not UTF-8: the bytes were meant as latin1, which they already are */
    }
  }
  if (!v.includes('=?')) return v;
  // Whitespace between two adjacent encoded-words is not part of the text (RFC 2047 section 6.2).
  return v.replace(/(\?=)\s+(?==\?)/g, '$1').replace(ENCODED_WORD, (w, cs: string, enc: string, text: string) => decodeWord(cs, enc, text) ?? w);
}

/** Stored text as a header value: unchanged when printable ASCII, else one RFC 2047 UTF-8 B encoded-word. */
export function textToHeader(text: string): string {
  if (/^[\x20-\x7e\t]*$/.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}
