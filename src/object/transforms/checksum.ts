// crc32c of every block stored in front of it, verified on every read: corruption anywhere below
// (disk, network, a cache) is an EIO naming the block, never wrong bytes.
//   header: 'FK' (2 bytes) | version 1 | algorithm 1 = crc32c | crc32c of the payload (uint32 BE) | payload
// A small range can come from a cache group member without the block (verifiedRange): the member checked
// this checksum on the whole block when it took the block in, keeps a crc32c per page of it to check the
// pages it reads back, and sends a crc32c of the range that the reader checks (cache/page-sums.ts).
import { crc32c } from './native.js';
import { TransformStore, corrupt } from './base.js';
import { span } from '../util.js';

const MAGIC = 0x464b; // 'FK'
/** Bytes before the payload in a stored block (a range of the payload is a range of the stored block past it). */
export const CHECKSUM_HEADER = 8;
const CRC32C = 1;

/** Why a stored block fails its checksum, or undefined when it is sound. */
export function checksumFault(stored: Buffer): string | undefined {
  if (stored.length < CHECKSUM_HEADER || stored.readUInt16BE(0) !== MAGIC) return 'no checksum header';
  if (stored[2] !== 1 || stored[3] !== CRC32C) return `unknown checksum format ${stored[2]}/${stored[3]}`;
  const want = stored.readUInt32BE(4);
  const got = crc32c(stored.subarray(CHECKSUM_HEADER)) >>> 0;
  if (got !== want) return `crc32c ${got.toString(16).padStart(8, '0')} does not match the stored ${want.toString(16).padStart(8, '0')}`;
  return undefined;
}

export class ChecksumStore extends TransformStore {
  /** Whole gets, unless the store below can hand out ranges of checked blocks (a cache group). */
  override get wholeObjectGets(): boolean {
    return !this.inner.verifiedRanges;
  }

  override async get(key: string, off = 0, len = -1): Promise<Buffer> {
    if ((off > 0 || len >= 0) && this.inner.verifiedRanges && this.inner.verifiedRange) {
      span(Number.MAX_SAFE_INTEGER, off, len);
      const part = await this.inner.verifiedRange(key, CHECKSUM_HEADER + off, len);
      if (part) return part;
    }
    return super.get(key, off, len);
  }

  protected async encode(_key: string, data: Buffer): Promise<Buffer> {
    const out = Buffer.allocUnsafe(CHECKSUM_HEADER + data.length);
    out.writeUInt16BE(MAGIC, 0);
    out[2] = 1;
    out[3] = CRC32C;
    out.writeUInt32BE(crc32c(data) >>> 0, 4);
    data.copy(out, CHECKSUM_HEADER);
    return out;
  }

  protected async decode(key: string, stored: Buffer): Promise<Buffer> {
    const fault = checksumFault(stored);
    if (fault) throw corrupt(key, fault);
    return stored.subarray(CHECKSUM_HEADER);
  }

  protected logicalSize(storedSize: number): number {
    return Math.max(0, storedSize - CHECKSUM_HEADER);
  }
}
