// Engines register a URL scheme; callers open a Meta by URL and never name an engine. An engine may
// register lazily: its scheme is known at once, its module (and its driver: pg, mysql2, ioredis) loads
// only when a URL of that scheme is first opened, so an SQLite client never pays for the others.
import { FsError } from '../errors.js';
import type { Meta, MetaFactory } from './interface.js';

const factories = new Map<string, MetaFactory>();
/** Schemes whose engine module is not loaded yet: importing it calls registerMeta for them. */
const loaders = new Map<string, () => Promise<unknown>>();

const bare = (scheme: string) => scheme.replace(/:$/, '');

export function registerMeta(scheme: string, factory: MetaFactory): void {
  factories.set(bare(scheme), factory);
  loaders.delete(bare(scheme));
}

/** Announces schemes whose engine module `load` imports (and registers) on first use. */
export function registerMetaLoader(schemes: string[], load: () => Promise<unknown>): void {
  for (const s of schemes) if (!factories.has(bare(s))) loaders.set(bare(s), load);
}

export function metaSchemes(): string[] {
  return [...new Set([...factories.keys(), ...loaders.keys()])];
}

/** Parses a metadata URL; a scheme is required so a typo never silently creates a database. */
export function parseMetaUrl(raw: string): URL {
  // A cluster is written as JuiceFS does, hosts separated by commas (etcd://h1:2379,h2:2379/prefix), which
  // URL does not parse: the first host stands for the list here, and the engine reads the list from `raw`.
  const first = raw.replace(/^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)([^,/?#]*),[^/?#]*/i, '$1$2');
  try {
    return new URL(first);
  } catch {
    throw new FsError('EINVAL', { message: `invalid metadata URL '${raw}' (expected e.g. sqlite3://ferry.db)` });
  }
}

function unknownEngine(raw: string, scheme: string): FsError {
  return new FsError('EINVAL', { message: `unknown metadata engine '${scheme}' in '${raw}' (known: ${metaSchemes().join(', ')})` });
}

/**
 * What is wrong with a metadata URL on its own (syntax, unknown scheme), without loading any engine: the CLI
 * calls it to tell a mistyped URL (a usage error) from a volume that cannot be opened.
 */
export function metaUrlProblem(raw: string): string | undefined {
  try {
    const scheme = parseMetaUrl(raw).protocol.replace(/:$/, '');
    if (!factories.has(scheme) && !loaders.has(scheme)) throw unknownEngine(raw, scheme);
    return undefined;
  } catch (e) {
    return (e as FsError).description;
  }
}

export async function openMeta(raw: string): Promise<Meta> {
  const url = parseMetaUrl(raw);
  const scheme = url.protocol.replace(/:$/, '');
  const load = loaders.get(scheme);
  if (load) await load();
  const factory = factories.get(scheme);
  if (!factory) throw unknownEngine(raw, scheme);
  return factory(url, raw);
}
