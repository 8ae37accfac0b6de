// The cache flags of the commands that serve a volume's data (mount, gateway), parsed one way. The gateway
// takes only the local ones (its --region is S3's, not a cache group's).
import { UsageError, parseCount, parseSize, type OptionSpec, type Parsed } from './args.js';
import type { CacheOptions } from '../cache/options.js';

export const LOCAL_CACHE_FLAGS: Record<string, OptionSpec> = {
  'cache-dir': { type: 'string', arg: 'DIR', help: 'local disk cache of blocks (LRU, survives restarts)' },
  'cache-size': { type: 'string', arg: 'SIZE', help: 'disk cache size limit (default 10G)' },
  'free-space-ratio': { type: 'string', arg: 'R', help: 'keep this share of the cache disk free (default 0.1)' },
  writeback: {
    type: 'boolean',
    help: 'write-back: stage written blocks in --cache-dir and upload them in the background (fast close/small files; a host crash can lose blocks not uploaded yet)',
  },
  'writeback-uploads': { type: 'string', arg: 'N', help: 'write-back uploads in flight (default 8)' },
};

export const CACHE_FLAGS: Record<string, OptionSpec> = {
  ...LOCAL_CACHE_FLAGS,
  'cache-group': { type: 'string', arg: 'NAME', help: 'share caches with the members of this group in the region' },
  'group-address': { type: 'string', arg: 'HOST:PORT', help: 'address this member serves blocks on (default 127.0.0.1, free port)' },
  region: { type: 'string', arg: 'NAME', help: 'region of this cache group member' },
  zone: { type: 'string', arg: 'NAME', help: 'zone of this member (replicas prefer other zones)' },
  replicas: { type: 'string', arg: 'N', help: 'group members holding each block (default 1)' },
  'no-sharing': { type: 'boolean', help: 'use the cache group without caching or serving blocks here' },
};

/** Cache options from the flags; the volume's metadata URL is where group members register. */
export function cacheOptions(p: Parsed, metaUrl: string, o0: { group?: boolean } = {}): CacheOptions {
  const v = p.values;
  const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const o: CacheOptions = { groupMetaUrl: metaUrl };
  if (s('cache-dir')) o.cacheDir = s('cache-dir');
  if (s('cache-size')) o.cacheSize = parseSize('cache-size', s('cache-size')!);
  if (s('free-space-ratio')) o.freeSpaceRatio = Number(s('free-space-ratio'));
  if (v.writeback === true) {
    if (!o.cacheDir) throw new UsageError('--writeback needs --cache-dir DIR: written blocks are staged there until they are uploaded');
    o.writeback = true;
  }
  if (s('writeback-uploads')) {
    o.writebackUploads = parseCount('--writeback-uploads', s('writeback-uploads')!, 1024);
    if (o.writebackUploads < 1) throw new UsageError('--writeback-uploads needs at least 1');
  }
  if (o0.group === false) return o;
  if (s('cache-group')) o.cacheGroup = s('cache-group');
  if (s('group-address')) o.groupAddress = s('group-address');
  if (s('region')) o.region = s('region');
  if (s('zone')) o.zone = s('zone');
  if (s('replicas')) o.replicas = parseCount('replicas', s('replicas')!, 16);
  if (v['no-sharing'] === true) o.noSharing = true;
  return o;
}
