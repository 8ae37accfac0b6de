// The cache flags every command that reads a volume's data takes (mount, warmup), parsed one way.
import { parseCount, parseSize, type OptionSpec, type Parsed } from './args.js';
import type { CacheOptions } from '../cache/options.js';

export const CACHE_FLAGS: Record<string, OptionSpec> = {
  'cache-dir': { type: 'string', arg: 'DIR', help: 'local disk cache of blocks (LRU, survives restarts)' },
  'cache-size': { type: 'string', arg: 'SIZE', help: 'disk cache size limit (default 10G)' },
  'free-space-ratio': { type: 'string', arg: 'R', help: 'keep this share of the cache disk free (default 0.1)' },
  'cache-group': { type: 'string', arg: 'NAME', help: 'share caches with the members of this group in the region' },
  'group-address': { type: 'string', arg: 'HOST:PORT', help: 'address this member serves blocks on (default 127.0.0.1, free port)' },
  region: { type: 'string', arg: 'NAME', help: 'region of this cache group member' },
  zone: { type: 'string', arg: 'NAME', help: 'zone of this member (replicas prefer other zones)' },
  replicas: { type: 'string', arg: 'N', help: 'group members holding each block (default 1)' },
  'no-sharing': { type: 'boolean', help: 'use the cache group without caching or serving blocks here' },
};

/** Cache options from the flags; the volume's metadata URL is where group members register. */
export function cacheOptions(p: Parsed, metaUrl: string): CacheOptions {
  const v = p.values;
  const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const o: CacheOptions = { groupMetaUrl: metaUrl };
  if (s('cache-dir')) o.cacheDir = s('cache-dir');
  if (s('cache-size')) o.cacheSize = parseSize('cache-size', s('cache-size')!);
  if (s('free-space-ratio')) o.freeSpaceRatio = Number(s('free-space-ratio'));
  if (s('cache-group')) o.cacheGroup = s('cache-group');
  if (s('group-address')) o.groupAddress = s('group-address');
  if (s('region')) o.region = s('region');
  if (s('zone')) o.zone = s('zone');
  if (s('replicas')) o.replicas = parseCount('replicas', s('replicas')!, 16);
  if (v['no-sharing'] === true) o.noSharing = true;
  return o;
}
