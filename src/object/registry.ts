// Backends register a URL scheme; callers open a store by URL and never name a backend.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FsError } from '../errors.js';
import type { ObjectFactory, ObjectOptions, ObjectStore } from './interface.js';

const factories = new Map<string, ObjectFactory>();

export function registerObjectStore(scheme: string, factory: ObjectFactory): void {
  factories.set(scheme.toLowerCase().replace(/:$/, ''), factory);
}

export function objectSchemes(): string[] {
  return [...factories.keys()];
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

export async function openObjectStore(raw: string, options: ObjectOptions = {}): Promise<ObjectStore> {
  const url = parseObjectUrl(raw);
  const factory = factories.get(url.protocol.slice(0, -1));
  if (!factory) throw unknownStorage(raw);
  return factory(url, raw, options);
}
