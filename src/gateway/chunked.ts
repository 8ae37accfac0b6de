// Decoding `Content-Encoding: aws-chunked` request bodies: signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// each chunk's signature chained from the request's), unsigned chunks with trailing checksums
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what current AWS SDKs send) and the signed-trailer variant.
// Data streams through as it arrives; a bad signature fails the body at the end of that chunk.
import { createHash, type Hash } from 'node:crypto';
import { s3err } from './errors.js';
import { chunkSignature, signaturesEqual, trailerSignature, type Verified } from './sigv4.js';

export type StreamingMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

export function streamingMode(payloadHash: string): StreamingMode | undefined {
  switch (payloadHash) {
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return 'signed';
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return 'signed-trailer';
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return 'unsigned-trailer';
    default:
      return undefined;
  }
}

const MAX_LINE = 8192;

/** Yields the decoded data; `trailers` is filled once the body ended. */
export async function* decodeAwsChunked(
  source: AsyncIterable<Buffer>,
  mode: StreamingMode,
  seed: Verified['seed'] | undefined,
  trailers: Map<string, string>,
): AsyncGenerator<Buffer> {
  const signed = mode !== 'unsigned-trailer';
  if (signed && !seed) throw s3err('AccessDenied', 'Signed streaming payloads need a signed request.');
  let prev = seed?.signature ?? '';
  let buf: Buffer = Buffer.alloc(0);
  let state: 'head' | 'data' | 'crlf' | 'trailer' | 'done' = 'head';
  let left = 0;
  let sig = '';
  let hash: Hash | undefined;
  let trailerText = '';
  let trailerSig: string | undefined;
  const bad = (msg: string) => s3err('IncompleteBody', `Malformed aws-chunked body: ${msg}`);

  const finishChunk = () => {
    if (signed) {
      const digest = hash!.digest('hex');
      const want = chunkSignature(seed!, prev, digest);
      if (!signaturesEqual(want, sig)) throw s3err('SignatureDoesNotMatch', 'A chunk signature does not match.');
      prev = want;
    }
    hash = undefined;
  };

  for await (const piece of source) {
    buf = buf.length ? Buffer.concat([buf, piece]) : piece;
    for (;;) {
      if (state === 'head') {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) {
          if (buf.length > MAX_LINE) throw bad('chunk header too long');
          break;
        }
        const line = buf.subarray(0, nl).toString('latin1');
        buf = buf.subarray(nl + 2);
        const [sizeHex, ...ext] = line.split(';');
        if (!/^[0-9a-fA-F]+$/.test(sizeHex!.trim())) throw bad('bad chunk size');
        left = parseInt(sizeHex!.trim(), 16);
        sig = '';
        for (const e of ext) if (e.startsWith('chunk-signature=')) sig = e.slice(16).trim();
        if (signed && !sig) throw s3err('SignatureDoesNotMatch', 'A chunk has no signature.');
        hash = signed ? createHash('sha256') : undefined;
        if (left === 0) {
          finishChunk();
          state = 'trailer';
        } else state = 'data';
      } else if (state === 'data') {
        if (buf.length === 0) break;
        const take = Math.min(left, buf.length);
        const out = buf.subarray(0, take);
        buf = buf.subarray(take);
        left -= take;
        hash?.update(out);
        yield out;
        if (left === 0) state = 'crlf';
      } else if (state === 'crlf') {
        if (buf.length < 2) break;
        if (buf[0] !== 13 || buf[1] !== 10) throw bad('chunk data not followed by CRLF');
        buf = buf.subarray(2);
        finishChunk();
        state = 'head';
      } else if (state === 'trailer') {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) {
          if (buf.length > MAX_LINE) throw bad('trailer too long');
          break;
        }
        const line = buf.subarray(0, nl).toString('latin1');
        buf = buf.subarray(nl + 2);
        if (line === '') {
          state = 'done';
          continue;
        }
        const c = line.indexOf(':');
        if (c < 0) throw bad('bad trailer line');
        const name = line.slice(0, c).trim().toLowerCase();
        const value = line.slice(c + 1).trim();
        if (name === 'x-amz-trailer-signature') trailerSig = value;
        else {
          trailers.set(name, value);
          trailerText += `${name}:${value}\n`;
        }
      } else {
        break;
      }
    }
  }
  // Some clients end the body right after the last chunk without the empty line.
  const final = state as string;
  if (final !== 'done' && !(final === 'trailer' && buf.length === 0)) throw bad('body ended early');
  if (mode === 'signed-trailer' && trailerText) {
    if (!trailerSig || !signaturesEqual(trailerSignature(seed!, prev, trailerText), trailerSig)) {
      throw s3err('SignatureDoesNotMatch', 'The trailer signature does not match.');
    }
  }
}
