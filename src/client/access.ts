// A client opened with a token (config.access: the SDK's token/tokenFile, a mount's --token-file): the view
// it acts through is the key's, from vfs/scope.ts (the one place keys become views), checked again every few
// seconds so that an expired or removed key stops working in a long-running mount.
import { readFile } from 'node:fs/promises';
import { FsError } from '../errors.js';
import { tokenView } from '../vfs/scope.js';
import type { VfsView } from '../vfs/view.js';
import type { ClientConfig } from './config.js';

/** The token of a config, read from its file if need be (one clear error when it cannot be read). */
export async function configToken(config: ClientConfig): Promise<string | undefined> {
  const a = config.access;
  if (!a) return undefined;
  if (a.token !== undefined) return a.token;
  if (a.tokenFile === undefined) return undefined;
  try {
    return (await readFile(a.tokenFile, 'utf8')).trim();
  } catch (e) {
    throw new FsError('EINVAL', { message: `token file ${a.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
}

/** `base` as the config's token allows (unchanged without a token); stop() ends the re-checks. */
export async function accessView(config: ClientConfig, base: VfsView): Promise<{ view: VfsView; stop: () => void }> {
  const token = await configToken(config);
  if (token === undefined) return { view: base, stop: () => undefined };
  return tokenView(base, token);
}
