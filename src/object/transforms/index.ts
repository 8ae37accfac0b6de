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
import { CHECKSUMS, COMPRESSIONS, MAX_SHARDS } from './names.js';

export { ChecksumStore } from './checksum.js';
export { CompressStore, CODECS, isCodec, type Codec } from './compress.js';
export { EncryptStore, newEncryption, resolveSecret, rewrapEncryption, unwrapDataKey, type EncryptionRecord, type UserSecret } from './encrypt.js';
export { PrefixStore, ShardStore, shardOf } from './shard.js';
export { TransformStore } from './base.js';
export { CHECKSUMS, COMPRESSIONS, DEFAULT_CHECKSUM, MAX_SHARDS } from './names.js';

/** Where a volume's blocks are stored and how they are transformed (the format's storage section; absent means none). */
export interface StoreSpec {
  url: string;
  compression?: string;
  checksum?: string;
  encryption?: EncryptionRecord;
  shards?: number;
}


/** The storage URLs of the shards: '%d' in the URL numbers buckets/directories, else one URL. */
export function shardUrls(storage: string, shards = 1): string[] {
  if (shards <= 1 || !storage.includes('%d')) return [storage];
  return Array.from({ length: shards }, (_, i) => storage.replaceAll('%d', String(i)));
}

/** The backend store(s) of a volume, sharded when the format says so (no byte transform). */
export async function openShardedStore(spec: Pick<StoreSpec, 'url' | 'shards'>, options: ObjectOptions = {}): Promise<ObjectStore> {
  const n = spec.shards ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) throw invalid(`bad shard count ${n} (1..${MAX_SHARDS})`);
  if (n === 1) return openObjectStore(spec.url, options);
  const urls = shardUrls(spec.url, n);
  if (urls.length === n) return new ShardStore(await Promise.all(urls.map((u) => openObjectStore(u, options))), spec.url);
  const base = await openObjectStore(spec.url, options);
  return new ShardStore(Array.from({ length: n }, (_, i) => new PrefixStore(base, `shard-${i}/`)), base.url);
}

/**
 * Wraps `store` in the spec's transforms; `secret` unlocks an encrypted volume (else env / the record).
 * `volume` names the volume in messages.
 */
export async function applyTransforms(store: ObjectStore, spec: StoreSpec, secret?: UserSecret, volume?: string): Promise<ObjectStore> {
  let s = store;
  const checksum = spec.checksum ?? 'none';
  if (checksum === 'crc32c') s = new ChecksumStore(s);
  else if (checksum !== 'none') throw invalid(`unknown block checksum '${checksum}' (known: ${CHECKSUMS.join(', ')})`);
  if (spec.encryption) {
    const who = resolveSecret(spec.encryption, secret);
    if (who.keyFile === undefined && who.passphrase === undefined) {
      const how = spec.encryption.kdf === 'hkdf-keyfile' ? 'FERRY_ENCRYPT_KEY_FILE=FILE' : `FERRY_ENCRYPT_PASSPHRASE${spec.encryption.passphraseEnv ? ` or ${spec.encryption.passphraseEnv}` : ''}`;
      throw new FsError('EACCES', { message: `${volume ? `volume ${volume}` : 'the volume'} is encrypted: set ${how} to unlock it` });
    }
    s = new EncryptStore(s, await unwrapDataKey(spec.encryption, who));
  }
  const compression = spec.compression ?? 'none';
  if (compression !== 'none') {
    if (!isCodec(compression)) throw invalid(`unknown compression '${compression}' (known: ${COMPRESSIONS.join(', ')})`);
    s = new CompressStore(s, compression);
  }
  return s;
}

/** The whole stack from a spec: shards, then transforms. */
export async function openTransformedStore(spec: StoreSpec, options: ObjectOptions = {}, secret?: UserSecret, volume?: string): Promise<ObjectStore> {
  const raw = await openShardedStore(spec, options);
  try {
    return await applyTransforms(raw, spec, secret, volume);
  } catch (e) {
    await raw.close().catch(() => undefined);
    throw e;
  }
}
