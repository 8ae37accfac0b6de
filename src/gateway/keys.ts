// Access keys of the S3 gateway, kept in the volume's format record (its `gateway` section), so every
// gateway of a volume knows them. Each key acts as one uid/gid: POSIX permissions decide what it may do.
import { randomBytes } from 'node:crypto';
import type { Format, GatewayKey } from '../meta/types.js';
import type { Meta } from '../meta/interface.js';

export type { GatewayKey } from '../meta/types.js';
export type KeyTable = Record<string, GatewayKey>;

export function keysOf(format: Format): KeyTable {
  return format.gateway?.keys ?? {};
}

export const ACCESS_KEY_RE = /^[A-Za-z0-9._-]{3,128}$/;

export function newAccessKey(): string {
  // 20 characters from an unambiguous alphabet, like AWS access key ids.
  const abc = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const b = randomBytes(16);
  return 'FERRY' + Array.from(b.subarray(0, 15), (x) => abc[x % abc.length]).join('');
}

export function newSecretKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'a').replace(/\//g, 'b');
}

// Both run their read and write in one transaction (updateFormat's function form): two concurrent
// changes never lose one another's key.

export async function addKey(meta: Meta, accessKey: string, key: GatewayKey): Promise<void> {
  await meta.updateFormat((f) => {
    if (keysOf(f)[accessKey]) throw new Error(`access key '${accessKey}' already exists (remove it first)`);
    return { gateway: { ...f.gateway, keys: { ...keysOf(f), [accessKey]: key } } };
  });
}

export async function removeKey(meta: Meta, accessKey: string): Promise<boolean> {
  let found = false;
  await meta.updateFormat((f) => {
    const { [accessKey]: gone, ...rest } = keysOf(f);
    found = gone !== undefined; // the transaction may run more than once
    return found ? { gateway: { ...f.gateway, keys: rest } } : {};
  });
  return found;
}
