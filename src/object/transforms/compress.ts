// lz4 or zstd per block. Every block carries a header saying how it is stored, so a block that did not
// shrink is kept raw and readers tell the two apart:
//   'FZ' (2 bytes) | version 1 | codec (0 raw, 1 lz4, 2 zstd) | original length (uint32 BE) | payload
import { lz4, zstd } from './native.js';
import { invalid } from '../util.js';
import type { ObjectInfo } from '../interface.js';
import { TransformStore, corrupt } from './base.js';

const MAGIC = 0x465a; // 'FZ'
const HEADER = 8;
export const CODECS = { none: 0, lz4: 1, zstd: 2 } as const;
export type Codec = keyof typeof CODECS;

export function isCodec(name: string): name is Codec {
  return Object.hasOwn(CODECS, name);
}

export class CompressStore extends TransformStore {
  private readonly codec: number;

  constructor(inner: ConstructorParameters<typeof TransformStore>[0], codec: Codec) {
    super(inner);
    if (!isCodec(codec) || codec === 'none') throw invalid(`unknown compression '${codec}' (known: lz4, zstd)`);
    this.codec = CODECS[codec];
  }

  private async squeeze(data: Buffer): Promise<Buffer> {
    return this.codec === CODECS.lz4 ? lz4().compress(data) : zstd().compress(data, { compressionLevel: 1 });
  }

  protected async encode(_key: string, data: Buffer): Promise<Buffer> {
    let codec = this.codec;
    let payload = data.length >= 64 ? await this.squeeze(data) : data;
    if (payload === data || payload.length >= data.length) {
      codec = CODECS.none;
      payload = data;
    }
    const out = Buffer.allocUnsafe(HEADER + payload.length);
    out.writeUInt16BE(MAGIC, 0);
    out[2] = 1;
    out[3] = codec;
    out.writeUInt32BE(data.length, 4);
    payload.copy(out, HEADER);
    return out;
  }

  protected async decode(key: string, stored: Buffer): Promise<Buffer> {
    if (stored.length < HEADER || stored.readUInt16BE(0) !== MAGIC || stored[2] !== 1) throw corrupt(key, 'no compression header');
    const size = stored.readUInt32BE(4);
    const payload = stored.subarray(HEADER);
    let data: Buffer;
    try {
      switch (stored[3]) {
        case CODECS.none:
          data = payload;
          break;
        case CODECS.lz4:
          data = await lz4().uncompress(payload);
          break;
        case CODECS.zstd:
          data = zstd().decompress(payload);
          break;
        default:
          throw corrupt(key, `unknown compression codec ${stored[3]}`);
      }
    } catch (e) {
      throw corrupt(key, `cannot decompress (${(e as Error).message})`);
    }
    if (data.length !== size) throw corrupt(key, `decompressed to ${data.length} bytes, expected ${size}`);
    return data;
  }

  /** Exact only for blocks stored raw; list sizes of compressed blocks are their stored sizes. */
  protected logicalSize(storedSize: number): number {
    return Math.max(0, storedSize - HEADER);
  }

  /** Exact: reads the header (just 8 bytes unless a transform below needs the whole block). */
  override async head(key: string): Promise<ObjectInfo> {
    const info = await this.inner.head(key);
    const header = await this.inner.get(key, 0, HEADER);
    if (header.length < HEADER || header.readUInt16BE(0) !== MAGIC) throw corrupt(key, 'no compression header');
    return { ...info, size: header.readUInt32BE(4) };
  }
}
