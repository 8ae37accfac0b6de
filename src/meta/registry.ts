// Engines register a URL scheme; callers open a Meta by URL and never name an engine.
import { FsError } from '../errors.js';
import type { Meta, MetaFactory } from './interface.js';

const factories = new Map<string, MetaFactory>();

export function registerMeta(scheme: string, factory: MetaFactory): void {
  factories.set(scheme.replace(/:$/, ''), factory);
}

export function metaSchemes(): string[] {
  return [...factories.keys()];
}

/** Parses a metadata URL; a scheme is required so a typo never silently creates a database. */
export function parseMetaUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FsError('EINVAL', { message: `invalid metadata URL '${raw}' (expected e.g. sqlite3://ferry.db)` });
  }
  return url;
}

export async function openMeta(raw: string): Promise<Meta> {
  const url = parseMetaUrl(raw);
  const scheme = url.protocol.replace(/:$/, '');
  const factory = factories.get(scheme);
  if (!factory) {
    throw new FsError('EINVAL', {
      message: `unknown metadata engine '${scheme}' in '${raw}' (known: ${metaSchemes().join(', ')})`,
    });
  }
  return factory(url, raw);
}
