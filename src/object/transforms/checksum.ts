// crc32c of every block stored in front of it, verified on every read: corruption anywhere below
// (disk, network, a cache) is an EIO naming the block, never wrong bytes.
//   header: 'FK' (2 bytes) | version 1 | algorithm 1 = crc32c | crc32c of the payload (uint32 BE) | payload
import { crc32c } from './native.js';
import { TransformStore, corrupt } from './base.js';

const MAGIC = 0x464b; // 'FK'
const HEADER = 8;
const CRC32C = 1;

export class ChecksumStore extends TransformStore {
  protected async encode(_key: string, data: Buffer): Promise<Buffer> {
    const out = Buffer.allocUnsafe(HEADER + data.length);
    out.writeUInt16BE(MAGIC, 0);
    out[2] = 1;
    out[3] = CRC32C;
    out.writeUInt32BE(crc32c(data) >>> 0, 4);
    data.copy(out, HEADER);
    return out;
  }

  protected async decode(key: string, stored: Buffer): Promise<Buffer> {
    if (stored.length < HEADER || stored.readUInt16BE(0) !== MAGIC) throw corrupt(key, 'no checksum header');
    if (stored[2] !== 1 || stored[3] !== CRC32C) throw corrupt(key, `unknown checksum format ${stored[2]}/${stored[3]}`);
    const payload = stored.subarray(HEADER);
    const want = stored.readUInt32BE(4);
    const got = crc32c(payload) >>> 0;
    if (got !== want) throw corrupt(key, `crc32c ${got.toString(16).padStart(8, '0')} does not match the stored ${want.toString(16).padStart(8, '0')}`);
    return payload;
  }

  protected logicalSize(storedSize: number): number {
    return Math.max(0, storedSize - HEADER);
  }
}
