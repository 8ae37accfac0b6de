// GETFILECHECKSUM as HDFS computes it (MD5MD5CRC32C): a CRC32C per 512 bytes, an MD5 of each block's CRCs,
// and an MD5 of those. With HDFS's block size and chunk size the value equals what HDFS reports for the same
// bytes, so `distcp` and `hadoop fs -checksum` compare FerryFS files with HDFS files.
import { createHash } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import type { VfsView } from '../vfs/view.js';
import { HDFS_BLOCK_SIZE } from './status.js';

const BYTES_PER_CRC = 512;
const READ = 4 << 20;

export interface HdfsFileChecksum {
  algorithm: string;
  /** Hex of: bytesPerCRC (int), crcPerBlock (long), the MD5 (16 bytes). */
  bytes: string;
  length: number;
}

export async function fileChecksum(view: VfsView, fh: number, size: number, blockSize = HDFS_BLOCK_SIZE): Promise<HdfsFileChecksum> {
  const fileMd5 = createHash('md5');
  const crc = Buffer.alloc(4);
  for (let block = 0; block < size; block += blockSize) {
    const blockMd5 = createHash('md5');
    const end = Math.min(size, block + blockSize);
    for (let off = block; off < end; ) {
      const b = await readFull(view, fh, off, Math.min(READ, end - off));
      if (b.length === 0) break;
      for (let i = 0; i < b.length; i += BYTES_PER_CRC) {
        crc.writeUInt32BE(crc32c(b.subarray(i, Math.min(b.length, i + BYTES_PER_CRC))) >>> 0);
        blockMd5.update(crc);
      }
      off += b.length;
    }
    fileMd5.update(blockMd5.digest());
  }
  // HDFS names the CRCs per block only when the file has more than one block.
  const crcPerBlock = size > blockSize ? blockSize / BYTES_PER_CRC : 0;
  const out = Buffer.alloc(28);
  out.writeInt32BE(BYTES_PER_CRC, 0);
  out.writeBigInt64BE(BigInt(crcPerBlock), 4);
  fileMd5.digest().copy(out, 12);
  return { algorithm: `MD5-of-${crcPerBlock}MD5-of-${BYTES_PER_CRC}CRC32C`, bytes: out.toString('hex'), length: 28 };
}

/** len bytes at off (fewer only at the end of the file): CRCs must cover whole 512-byte pieces. */
async function readFull(view: VfsView, fh: number, off: number, len: number): Promise<Buffer> {
  const first = await view.read(fh, off, len);
  if (first.length === len || first.length === 0) return first;
  const parts = [Buffer.from(first)];
  let got = first.length;
  while (got < len) {
    const b = await view.read(fh, off + got, len - got);
    if (b.length === 0) break;
    parts.push(Buffer.from(b));
    got += b.length;
  }
  return Buffer.concat(parts, got);
}
