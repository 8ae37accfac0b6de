// Backends register a URL scheme; callers open a store by URL and never name a backend. A backend with a
// heavy driver (s3: the AWS SDK) registers lazily: its module loads when a URL of its scheme is first opened.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FsError } from '../errors.js';
import type { ObjectFactory, ObjectOptions, ObjectStore } from './interface.js';

const factories = new Map<string, ObjectFactory>();
/** Schemes whose backend module is not loaded yet: `load` registers them. */
const loaders = new Map<string, () => Promise<unknown>>();

const bare = (scheme: string) => scheme.toLowerCase().replace(/:$/, '');

export function registerObjectStore(scheme: string, factory: ObjectFactory): void {
  factories.set(bare(scheme), factory);
  loaders.delete(bare(scheme));
}

/** Announces schemes whose backend `load` imports and registers on first use. */
export function registerObjectLoader(schemes: string[], load: () => Promise<unknown>): void {
  for (const s of schemes) if (!factories.has(bare(s))) loaders.set(bare(s), load);
}

export function objectSchemes(): string[] {
  return [...new Set([...factories.keys(), ...loaders.keys()])];
}

export function unknownStorage(raw: string, why?: string): FsError {
  const detail = why ? `: ${why}` : '';
  return new FsError('EINVAL', {
    message: `unknown object storage '${raw}'${detail} (known: ${objectSchemes().join(', ')})`,
  });
}

/** Parses a storage URL; anything without a scheme is a local directory (like JuiceFS's default). */
export function parseObjectUrl(raw: string): URL {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(raw)) {
    if (raw === '') throw unknownStorage(raw, 'empty URL');
    return pathToFileURL(resolve(raw));
  }
  try {
    return new URL(raw);
  } catch {
    throw unknownStorage(raw, 'not a valid URL');
  }
}

/** What is wrong with a storage URL on its own (syntax, unknown scheme), without loading any backend. */
export function objectUrlProblem(raw: string): string | undefined {
  try {
    const scheme = parseObjectUrl(raw).protocol.slice(0, -1);
    if (!factories.has(scheme) && !loaders.has(scheme)) throw unknownStorage(raw);
    return undefined;
  } catch (e) {
    return (e as FsError).description;
  }
}

export async function openObjectStore(raw: string, options: ObjectOptions = {}): Promise<ObjectStore> {
  const url = parseObjectUrl(raw);
  const scheme = url.protocol.slice(0, -1);
  const load = loaders.get(scheme);
  if (load) await load();
  const factory = factories.get(scheme);
  if (!factory) throw unknownStorage(raw);
  return factory(url, raw, options);
}
