// Hashes computed while a body streams: MD5 (the ETag, Content-MD5), SHA-256 (a signed payload's
// x-amz-content-sha256) and the flexible checksums AWS SDKs send (x-amz-checksum-crc32/crc32c/sha1/sha256,
// as a header or an aws-chunked trailer).
import { crc32, crc32c } from '@node-rs/crc32';
import { createHash, type Hash } from 'node:crypto';
import { s3err } from './errors.js';

const ALGOS = ['crc32', 'crc32c', 'sha1', 'sha256', 'crc64nvme'] as const;
type Algo = (typeof ALGOS)[number];

class Crc {
  private state = 0;
  constructor(private readonly fn: typeof crc32) {}
  update(b: Buffer): void {
    this.state = this.fn(b, this.state);
  }
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.state >>> 0);
    return out.toString('base64');
  }
}

export class BodyHasher {
  readonly md5 = createHash('md5');
  private sha?: Hash;
  private flex?: { algo: Algo; crc?: Crc; hash?: Hash };
  bytes = 0;

  /** `payloadHash`: a hex SHA-256 to check, or anything else; `checksumAlgo`: a flexible checksum to compute. */
  constructor(readonly payloadHash: string | undefined, checksumAlgo?: string) {
    if (payloadHash && /^[0-9a-f]{64}$/.test(payloadHash)) this.sha = createHash('sha256');
    const a = checksumAlgo?.toLowerCase() as Algo | undefined;
    if (a && a !== 'crc64nvme' && (ALGOS as readonly string[]).includes(a)) {
      this.flex = { algo: a };
      if (a === 'crc32') this.flex.crc = new Crc(crc32);
      else if (a === 'crc32c') this.flex.crc = new Crc(crc32c);
      else this.flex.hash = createHash(a);
    }
  }

  update(b: Buffer): void {
    this.bytes += b.length;
    this.md5.update(b);
    this.sha?.update(b);
    this.flex?.crc?.update(b);
    this.flex?.hash?.update(b);
  }

  /** Checks the payload hash, Content-MD5 and a flexible checksum; returns the MD5 as hex. */
  finish(contentMd5: string | undefined, checksums: Map<string, string>): string {
    const md5 = this.md5.digest();
    if (this.sha && this.sha.digest('hex') !== this.payloadHash) throw s3err('XAmzContentSHA256Mismatch');
    if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').toString('hex') !== md5.toString('hex')) throw s3err('BadDigest');
    if (this.flex) {
      const want = checksums.get(`x-amz-checksum-${this.flex.algo}`);
      const got = this.flex.crc ? this.flex.crc.base64() : this.flex.hash!.digest('base64');
      if (want !== undefined && want !== got) throw s3err('BadDigest', `The ${this.flex.algo.toUpperCase()} checksum you specified did not match what was received.`);
    }
    return md5.toString('hex');
  }
}

/** Which flexible checksum a request announces: x-amz-checksum-ALGO header, or x-amz-trailer naming one. */
export function checksumAlgorithm(headers: Record<string, string | string[] | undefined>): string | undefined {
  const trailer = headers['x-amz-trailer'];
  if (typeof trailer === 'string' && trailer.toLowerCase().startsWith('x-amz-checksum-')) return trailer.slice(15).toLowerCase();
  for (const a of ALGOS) if (headers[`x-amz-checksum-${a}`] !== undefined) return a;
  return undefined;
}

export function validContentMd5(v: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(v);
}
