import assert from 'node:assert/strict';
// An S3 gateway on a throwaway volume for tests and benchmarks: a temp volume (SQLite + file://), access
// keys added to its format, the gateway started in-process on 127.0.0.1:0, and AWS SDK clients for it.
import { S3Client } from '@aws-sdk/client-s3';
import { Gateway, addKey, type GatewayOptions } from '../../src/gateway/index.js';
import { tempVolume, type TempVolume, type TempVolumeOptions, metaOf } from './volume.js';

export interface TestKey {
  accessKey: string;
  secret: string;
  uid: number;
  gid: number;
}

export const ROOT_KEY: TestKey = { accessKey: 'ROOTKEY', secret: 'root-secret-0123456789', uid: 0, gid: 0 };
export const ALICE: TestKey = { accessKey: 'ALICEKEY', secret: 'alice-secret-0123456789', uid: 1001, gid: 1001 };
export const BOB: TestKey = { accessKey: 'BOBKEY', secret: 'bob-secret-0123456789', uid: 1002, gid: 1002 };

export interface TestGateway {
  t: TempVolume;
  gw: Gateway;
  url: string;
  client(key?: TestKey): S3Client;
  close(): Promise<void>;
}

export async function addKeys(t: TempVolume, keys: TestKey[]): Promise<void> {
  for (const k of keys) await addKey(metaOf(t.v), k.accessKey, { secret: k.secret, uid: k.uid, gid: k.gid, created: new Date().toISOString() });
}

export async function startGateway(opts: Partial<GatewayOptions> = {}, vopts: TempVolumeOptions = {}, keys = [ROOT_KEY, ALICE, BOB]): Promise<TestGateway> {
  const t = await tempVolume(vopts);
  await addKeys(t, keys);
  // The gateway opens its own client of the volume, as `ferry gateway` does.
  const gw = await Gateway.start({ metaUrl: t.url, address: '127.0.0.1:0', errorLog: () => undefined, ...opts });
  const clients: S3Client[] = [];
  return {
    t,
    gw,
    url: gw.url,
    client(key = ROOT_KEY) {
      const c = new S3Client({
        endpoint: gw.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secret },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await gw.close(2000);
      await t.cleanup();
    },
  };
}

/**
 * The error code an SDK call failed with; for replies without a body (HEAD, 304, some 404s) the HTTP status.
 */
export async function s3code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    if (!err.Code && (err.name === 'Unknown' || err.name === undefined || err.name === 'NotFound' || /^\d+$/.test(err.name ?? ''))) return String(err.$metadata?.httpStatusCode);
    return err.Code ?? err.name ?? 'unknown';
  }
  assert.fail('expected the call to fail');
}

/** The whole body of a GetObject answer. */
export async function bodyOf(r: { Body?: unknown }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r.Body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
