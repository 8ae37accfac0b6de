// The volume's secrets come from the CSI request (a Kubernetes Secret named by the StorageClass or PV), never
// from flags, logs or a process's arguments: `metaurl` (the metadata URL, with its password), and for an
// encrypted volume `encrypt-key` (the key file's content) or `encrypt-passphrase`. A key is written to a 0600
// file in a 0700 directory of the driver, since the client reads keys from a file.
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientConfig } from '../client/config.js';
import { invalid } from './status.js';

export const SECRET_META_URL = 'metaurl';
export const SECRET_ENCRYPT_KEY = 'encrypt-key';
export const SECRET_ENCRYPT_PASSPHRASE = 'encrypt-passphrase';

export type Secrets = Record<string, string>;

/** The metadata URL of the secrets, or of FERRY_META_URL in the driver's environment (one volume per driver). */
export function metaUrlOf(secrets: Secrets | undefined): string {
  const url = secrets?.[SECRET_META_URL] || process.env.FERRY_META_URL;
  if (!url) throw invalid(`no metadata URL: give the key '${SECRET_META_URL}' in the volume's secret (csi.storage.k8s.io/*-secret-name)`);
  return url;
}

/** A short stable name for files of one metadata URL (no secret in a file name). */
export function urlKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** The client config the secrets describe; an encryption key is written into dir (0700) as a 0600 file. */
export async function clientConfigOf(secrets: Secrets | undefined, dir: string): Promise<ClientConfig> {
  const metaUrl = metaUrlOf(secrets);
  const cfg: ClientConfig = { metaUrl };
  const key = secrets?.[SECRET_ENCRYPT_KEY];
  const passphrase = secrets?.[SECRET_ENCRYPT_PASSPHRASE];
  if (key) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const keyFile = join(dir, `${urlKey(metaUrl)}.key`);
    await writeFile(keyFile, key, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    cfg.encryption = { keyFile };
  } else if (passphrase) cfg.encryption = { passphrase, source: 'the CSI secret' };
  return cfg;
}
