// Encryption at rest: AES-256-GCM per block with a random 12-byte nonce, the object key as associated data
// (a block moved under another key does not decrypt). Blocks are encrypted with a random data key; the
// volume's format record keeps that key wrapped (AES-256-GCM) by a key derived from the user's secret
// (a key file, or a passphrase through scrypt), so changing the user's secret rewraps 32 bytes and
// rewrites no data.
//   block: 'FE' (2 bytes) | version 1 | 0 | nonce (12) | ciphertext | tag (16)
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FsError } from '../../errors.js';
import type { ObjectStore } from '../interface.js';
import { TransformStore, corrupt } from './base.js';

const MAGIC = 0x4645; // 'FE'
const HEADER = 16;
const TAG = 16;
const NONCE = 12;
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;

/** What the format record keeps about encryption (no secret in it). */
export interface EncryptionRecord {
  algorithm: 'aes-256-gcm';
  /** How the key that wraps the data key is derived from the user's secret. */
  kdf: 'scrypt' | 'hkdf-keyfile';
  salt: string;
  scrypt?: { N: number; r: number; p: number };
  /** base64 of nonce | wrapped data key | tag. */
  wrappedKey: string;
  /** Where the key file was at format time, used when no other secret is given. */
  keyFile?: string;
  /** The environment variable the passphrase was read from at format time. */
  passphraseEnv?: string;
}

/** The user's secret: exactly one of a key file path or a passphrase. */
export interface UserSecret {
  keyFile?: string;
  passphrase?: string;
  /** For messages: where the passphrase came from, e.g. "$FERRY_PASSPHRASE". */
  source?: string;
}

function describe(secret: UserSecret): string {
  return secret.keyFile !== undefined ? `key file ${secret.keyFile}` : `the passphrase${secret.source ? ` in ${secret.source}` : ''}`;
}

function scrypt(pass: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((res, rej) => scryptCb(pass, salt, 32, { ...opts, maxmem: 128 << 20 }, (e, k) => (e ? rej(e) : res(k))));
}

async function keyFileBytes(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new FsError('EACCES', { cause: e, message: `cannot read encryption key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  if (bytes.length < 16) throw new FsError('EINVAL', { message: `encryption key file ${path} is too short (${bytes.length} bytes; use at least 32 random bytes, e.g. openssl rand -out FILE 32)` });
  return bytes;
}

async function wrappingKey(rec: Pick<EncryptionRecord, 'kdf' | 'salt' | 'scrypt'>, secret: UserSecret): Promise<Buffer> {
  const salt = Buffer.from(rec.salt, 'base64');
  if (rec.kdf === 'hkdf-keyfile') {
    if (secret.keyFile === undefined) throw new FsError('EACCES', { message: 'this volume is encrypted with a key file: give it with --encrypt-key-file or FERRY_ENCRYPT_KEY_FILE' });
    return Buffer.from(hkdfSync('sha256', await keyFileBytes(secret.keyFile), salt, 'ferryfs wrapping key', 32));
  }
  if (secret.passphrase === undefined) throw new FsError('EACCES', { message: 'this volume is encrypted with a passphrase: set it in FERRY_ENCRYPT_PASSPHRASE (or the variable given at format)' });
  if (secret.passphrase === '') throw new FsError('EINVAL', { message: `the encryption passphrase${secret.source ? ` in ${secret.source}` : ''} is empty` });
  return scrypt(secret.passphrase, salt, rec.scrypt ?? SCRYPT);
}

function seal(key: Buffer, plain: Buffer, aad?: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) c.setAAD(aad);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer, aad?: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE));
  if (aad) d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([d.update(sealed.subarray(NONCE, sealed.length - TAG)), d.final()]);
}

/** A new record: a random data key wrapped by the user's secret. */
export async function newEncryption(secret: UserSecret, dataKey: Buffer = randomBytes(32)): Promise<{ record: EncryptionRecord; dataKey: Buffer }> {
  const base = secret.keyFile !== undefined
    ? { kdf: 'hkdf-keyfile' as const, salt: randomBytes(16).toString('base64') }
    : { kdf: 'scrypt' as const, salt: randomBytes(16).toString('base64'), scrypt: { ...SCRYPT } };
  const kek = await wrappingKey(base, secret);
  const record: EncryptionRecord = { algorithm: 'aes-256-gcm', ...base, wrappedKey: seal(kek, dataKey).toString('base64') };
  if (secret.keyFile !== undefined) record.keyFile = secret.keyFile;
  return { record, dataKey };
}

/** The data key, or one EACCES line when the secret is not the one the volume was formatted with. */
export async function unwrapDataKey(record: EncryptionRecord, secret: UserSecret): Promise<Buffer> {
  if (record.algorithm !== 'aes-256-gcm') throw new FsError('EINVAL', { message: `unknown volume encryption '${String(record.algorithm)}'` });
  const kek = await wrappingKey(record, secret);
  try {
    return open(kek, Buffer.from(record.wrappedKey, 'base64'));
  } catch {
    throw new FsError('EACCES', { message: `wrong encryption key: ${describe(secret)} does not unlock this volume's data key` });
  }
}

/** Key rotation: the same data key wrapped by a new secret (no block is rewritten). */
export async function rewrapEncryption(record: EncryptionRecord, oldSecret: UserSecret, newSecret: UserSecret): Promise<EncryptionRecord> {
  const dataKey = await unwrapDataKey(record, oldSecret);
  return (await newEncryption(newSecret, dataKey)).record;
}

/**
 * The secret for a volume: given by the caller, else FERRY_ENCRYPT_KEY_FILE / FERRY_ENCRYPT_PASSPHRASE,
 * else what the record names (its key file path, or its passphrase variable).
 */
export function resolveSecret(record: EncryptionRecord, given: UserSecret = {}): UserSecret {
  if (given.keyFile !== undefined || given.passphrase !== undefined) return given;
  const env = process.env;
  if (record.kdf === 'hkdf-keyfile') {
    const keyFile = env.FERRY_ENCRYPT_KEY_FILE || record.keyFile;
    return keyFile !== undefined ? { keyFile } : {};
  }
  if (env.FERRY_ENCRYPT_PASSPHRASE !== undefined) return { passphrase: env.FERRY_ENCRYPT_PASSPHRASE, source: '$FERRY_ENCRYPT_PASSPHRASE' };
  if (record.passphraseEnv && env[record.passphraseEnv] !== undefined) return { passphrase: env[record.passphraseEnv], source: `$${record.passphraseEnv}` };
  return {};
}

export class EncryptStore extends TransformStore {
  constructor(inner: ObjectStore, private readonly dataKey: Buffer) {
    super(inner);
    if (dataKey.length !== 32) throw new FsError('EINVAL', { message: 'the data key must be 32 bytes' });
  }

  protected async encode(key: string, data: Buffer): Promise<Buffer> {
    const header = Buffer.from([MAGIC >> 8, MAGIC & 0xff, 1, 0]);
    return Buffer.concat([header, seal(this.dataKey, data, Buffer.from(key))]);
  }

  protected async decode(key: string, stored: Buffer): Promise<Buffer> {
    if (stored.length < HEADER + TAG || stored.readUInt16BE(0) !== MAGIC || stored[2] !== 1) throw corrupt(key, 'not an encrypted block');
    try {
      return open(this.dataKey, stored.subarray(4), Buffer.from(key));
    } catch {
      throw corrupt(key, 'it does not decrypt (tampered with, moved, or written under another key)');
    }
  }

  protected logicalSize(storedSize: number): number {
    return Math.max(0, storedSize - HEADER - TAG);
  }
}
