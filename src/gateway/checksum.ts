// Hashes computed while a body streams: MD5 (the ETag, Content-MD5), SHA-256 (a signed payload's
// x-amz-content-sha256) and the flexible checksums AWS SDKs send (x-amz-checksum-crc32/crc32c/crc64nvme/
// sha1/sha256, as a header or an aws-chunked trailer), which are verified and kept with the object.
import { crc32, crc32c } from '@node-rs/crc32';
import { createHash, type Hash } from 'node:crypto';
import { Crc64Nvme } from './crc.js';
import { s3err } from './errors.js';

export const ALGOS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type Algo = (typeof ALGOS)[number];
/** Bytes of each algorithm's digest (a checksum header is their base64). */
export const DIGEST_BYTES: Record<Algo, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

export function isAlgo(a: string): a is Algo {
  return (ALGOS as readonly string[]).includes(a);
}

/** The S3 spelling of an algorithm in XML elements and headers: CRC32, CRC32C, CRC64NVME, SHA1, SHA256. */
export const algoName = (a: Algo) => a.toUpperCase();
/** The XML element of a checksum: ChecksumCRC32, ... */
export const algoElement = (a: Algo) => `Checksum${algoName(a)}`;

interface Digester {
  update(b: Buffer): void;
  digest(): Buffer;
}

class Crc32 implements Digester {
  private state = 0;
  constructor(private readonly fn: typeof crc32) {}
  update(b: Buffer): void {
    this.state = this.fn(b, this.state);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.state >>> 0);
    return out;
  }
}

export function digester(a: Algo): Digester {
  if (a === 'crc32') return new Crc32(crc32);
  if (a === 'crc32c') return new Crc32(crc32c);
  if (a === 'crc64nvme') return new Crc64Nvme();
  const h: Hash = createHash(a);
  return { update: (b) => h.update(b), digest: () => h.digest() };
}

/** A flexible checksum as computed: the algorithm and the raw digest. */
export interface Checksum {
  algo: Algo;
  digest: Buffer;
}

/** Whether `v` is a well-formed base64 checksum of algorithm a (S3 answers InvalidRequest otherwise). */
export function checkChecksumValue(a: Algo, v: string, where = 'header'): void {
  const ok = /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0 && Buffer.from(v, 'base64').length === DIGEST_BYTES[a];
  if (!ok) throw s3err('InvalidRequest', `Value for x-amz-checksum-${a} ${where} is invalid.`);
}

export class BodyHasher {
  readonly md5 = createHash('md5');
  private sha?: Hash;
  private flex?: { algo: Algo; d: Digester };
  /** The flexible checksum of the body, once finish() checked it. */
  checksum?: Checksum;
  bytes = 0;

  /** `payloadHash`: a hex SHA-256 to check, or anything else; `checksumAlgo`: a flexible checksum to compute. */
  constructor(readonly payloadHash: string | undefined, checksumAlgo?: Algo) {
    if (payloadHash && /^[0-9a-f]{64}$/.test(payloadHash)) this.sha = createHash('sha256');
    if (checksumAlgo) this.flex = { algo: checksumAlgo, d: digester(checksumAlgo) };
  }

  update(b: Buffer): void {
    this.bytes += b.length;
    this.md5.update(b);
    this.sha?.update(b);
    this.flex?.d.update(b);
  }

  /**
   * Checks the payload hash, Content-MD5 and a flexible checksum (`checksums`: the x-amz-checksum-* headers
   * and trailers received); returns the MD5 as hex. A flexible checksum is computed (and kept) even when
   * none was sent, e.g. for a part of an upload created with a ChecksumAlgorithm.
   */
  finish(contentMd5: string | undefined, checksums: Map<string, string>): string {
    const md5 = this.md5.digest();
    if (this.sha && this.sha.digest('hex') !== this.payloadHash) throw s3err('XAmzContentSHA256Mismatch');
    if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').toString('hex') !== md5.toString('hex')) throw s3err('BadDigest');
    if (this.flex) {
      const { algo } = this.flex;
      const want = checksums.get(`x-amz-checksum-${algo}`);
      const got = this.flex.d.digest();
      if (want !== undefined) {
        checkChecksumValue(algo, want);
        if (want !== got.toString('base64')) throw s3err('BadDigest', `The ${algoName(algo)} you specified did not match the calculated checksum.`);
      }
      this.checksum = { algo, digest: got };
    }
    return md5.toString('hex');
  }
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * Which flexible checksum a request carries: an x-amz-checksum-ALGO header, or x-amz-trailer naming one.
 * Refuses (InvalidRequest, as S3) more than one, an unknown trailer, and x-amz-sdk-checksum-algorithm
 * without its checksum; a checksum of another algorithm than x-amz-sdk-checksum-algorithm says is BadDigest.
 */
export function checksumAlgorithm(headers: Headers): Algo | undefined {
  const found: Algo[] = [];
  const trailer = headers['x-amz-trailer'];
  if (typeof trailer === 'string' && trailer.trim() !== '') {
    const t = trailer.trim().toLowerCase();
    const a = t.startsWith('x-amz-checksum-') ? t.slice(15) : '';
    if (!isAlgo(a)) throw s3err('InvalidRequest', `The value specified in the x-amz-trailer header is not supported: ${trailer.slice(0, 64)}`);
    found.push(a);
  }
  for (const a of ALGOS) {
    const v = headers[`x-amz-checksum-${a}`];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw s3err('InvalidRequest', `Expecting a single x-amz-checksum-${a} header.`);
    checkChecksumValue(a, v);
    if (!found.includes(a)) found.push(a);
  }
  if (found.length > 1) throw s3err('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const sdk = headers['x-amz-sdk-checksum-algorithm'];
  if (typeof sdk === 'string') {
    const s = sdk.toLowerCase();
    if (!isAlgo(s)) throw s3err('InvalidRequest', `Invalid x-amz-sdk-checksum-algorithm: ${sdk.slice(0, 32)}`);
    if (found.length === 0) throw s3err('InvalidRequest', 'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.');
    if (found[0] !== s) throw s3err('BadDigest', `The x-amz-checksum-${found[0]} you sent does not match x-amz-sdk-checksum-algorithm ${sdk}.`);
  }
  return found[0];
}

export function validContentMd5(v: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(v);
}
