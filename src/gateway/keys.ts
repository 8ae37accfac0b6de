// Access keys of the S3 gateway, kept in the volume's format record (`gatewayKeys`), so every gateway of
// a volume knows them. Each key acts as one uid/gid: POSIX permissions decide what it may do.
import { randomBytes } from 'node:crypto';
import type { Format } from '../meta/types.js';
import type { Meta } from '../meta/interface.js';

export interface GatewayKey {
  secret: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  gids?: number[];
  created: string;
  description?: string;
}

export type KeyTable = Record<string, GatewayKey>;

export function keysOf(format: Format): KeyTable {
  const k = format.gatewayKeys;
  return k && typeof k === 'object' ? (k as KeyTable) : {};
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

export async function addKey(meta: Meta, accessKey: string, key: GatewayKey): Promise<void> {
  const f = await meta.load();
  const table = { ...keysOf(f) };
  if (table[accessKey]) throw new Error(`access key '${accessKey}' already exists (remove it first)`);
  table[accessKey] = key;
  await meta.updateFormat({ gatewayKeys: table });
}

export async function removeKey(meta: Meta, accessKey: string): Promise<boolean> {
  const f = await meta.load();
  const table = { ...keysOf(f) };
  if (!table[accessKey]) return false;
  delete table[accessKey];
  await meta.updateFormat({ gatewayKeys: table });
  return true;
}
