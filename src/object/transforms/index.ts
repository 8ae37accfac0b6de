// A volume's block transforms, as its format record names them, stacked in one order:
//   write: compress -> encrypt -> checksum -> (shards) -> store;  read: the reverse.
// Compression must come before encryption (ciphertext does not compress); the checksum is outermost so
// corruption below it is caught before decryption or decompression ever sees the bytes.
import { FsError } from '../../errors.js';
import type { ObjectOptions, ObjectStore } from '../interface.js';
// From the layer's entry point, so the built-in backends are registered whoever imports this first.
import { openObjectStore } from '../index.js';
import { invalid } from '../util.js';
import { ChecksumStore } from './checksum.js';
import { CompressStore, isCodec } from './compress.js';
import { EncryptStore, resolveSecret, unwrapDataKey, type EncryptionRecord, type UserSecret } from './encrypt.js';
import { PrefixStore, ShardStore } from './shard.js';

export { ChecksumStore } from './checksum.js';
export { CompressStore, CODECS, isCodec, type Codec } from './compress.js';
export { EncryptStore, newEncryption, resolveSecret, rewrapEncryption, unwrapDataKey, type EncryptionRecord, type UserSecret } from './encrypt.js';
export { PrefixStore, ShardStore, shardOf } from './shard.js';
export { TransformStore } from './base.js';

/** The format record's fields about blocks (all optional: absent means none). */
export interface BlockTransforms {
  name?: string;
  storage: string;
  compression?: string;
  checksum?: string;
  encryption?: EncryptionRecord;
  shards?: number;
}

export const CHECKSUMS = ['none', 'crc32c'];
/** The checksum of a new volume unless it opts out: blocks are verified on every read, so corruption is EIO, never wrong bytes. */
export const DEFAULT_CHECKSUM = 'crc32c';
export const MAX_SHARDS = 256;

/** The storage URLs of the shards: '%d' in the URL numbers buckets/directories, else one URL. */
export function shardUrls(storage: string, shards = 1): string[] {
  if (shards <= 1 || !storage.includes('%d')) return [storage];
  return Array.from({ length: shards }, (_, i) => storage.replaceAll('%d', String(i)));
}

/** The backend store(s) of a volume, sharded when the format says so (no byte transform). */
export async function openShardedStore(format: Pick<BlockTransforms, 'storage' | 'shards'>, options: ObjectOptions = {}): Promise<ObjectStore> {
  const n = format.shards ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) throw invalid(`bad shard count ${n} (1..${MAX_SHARDS})`);
  if (n === 1) return openObjectStore(format.storage, options);
  const urls = shardUrls(format.storage, n);
  if (urls.length === n) return new ShardStore(await Promise.all(urls.map((u) => openObjectStore(u, options))), format.storage);
  const base = await openObjectStore(format.storage, options);
  return new ShardStore(Array.from({ length: n }, (_, i) => new PrefixStore(base, `shard-${i}/`)), base.url);
}

/** Wraps `store` in the format's transforms; `secret` unlocks an encrypted volume (else env / the record). */
export async function applyTransforms(store: ObjectStore, format: BlockTransforms, secret?: UserSecret): Promise<ObjectStore> {
  let s = store;
  const checksum = format.checksum ?? 'none';
  if (checksum === 'crc32c') s = new ChecksumStore(s);
  else if (checksum !== 'none') throw invalid(`unknown block checksum '${checksum}' (known: ${CHECKSUMS.join(', ')})`);
  if (format.encryption) {
    const who = resolveSecret(format.encryption, secret);
    if (who.keyFile === undefined && who.passphrase === undefined) {
      const how = format.encryption.kdf === 'hkdf-keyfile' ? 'FERRY_ENCRYPT_KEY_FILE=FILE' : `FERRY_ENCRYPT_PASSPHRASE${format.encryption.passphraseEnv ? ` or ${format.encryption.passphraseEnv}` : ''}`;
      throw new FsError('EACCES', { message: `volume ${format.name ?? ''} is encrypted: set ${how} to unlock it`.replace('volume  is', 'the volume is') });
    }
    s = new EncryptStore(s, await unwrapDataKey(format.encryption, who));
  }
  const compression = format.compression ?? 'none';
  if (compression !== 'none') {
    if (!isCodec(compression)) throw invalid(`unknown compression '${compression}' (known: none, lz4, zstd)`);
    s = new CompressStore(s, compression);
  }
  return s;
}

/** The whole stack from a format: shards, then transforms. */
export async function openTransformedStore(format: BlockTransforms, options: ObjectOptions = {}, secret?: UserSecret): Promise<ObjectStore> {
  const raw = await openShardedStore(format, options);
  try {
    return await applyTransforms(raw, format, secret);
  } catch (e) {
    await raw.close().catch(() => undefined);
    throw e;
  }
}
