// Client options as command-line flags and as mount options (`-o cache-dir=/x,writeback`), both made from the
// one table in client/options.ts; this file only turns their text into values (sizes, counts, seconds).
import { CLIENT_OPTIONS, setOption, type ClientConfig, type ClientOption, type OptionDoor } from '../client/index.js';
import { parseDuration } from '../meta/retention.js';
import { parseMetricsAddress } from '../object/metrics.js';
import { UsageError, parseCount, parseSize, parseWith, refuseNegative, type OptionSpec, type Parsed } from './args.js';

function rows(doors: OptionDoor[]): ClientOption[] {
  return CLIENT_OPTIONS.filter((o) => doors.includes(o.door));
}

/** The flags of these doors, for a command's option table. */
export function clientFlags(...doors: OptionDoor[]): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const o of rows(doors)) out[o.flag] = { type: o.kind === 'boolean' ? 'boolean' : 'string', arg: o.arg, help: o.help };
  return out;
}

function value(o: ClientOption, raw: string | boolean, where: string): unknown {
  const name = `${where}${o.flag}`;
  if (o.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    throw new UsageError(`${name} takes no value`);
  }
  if (typeof raw !== 'string') throw new UsageError(`${name} needs a value`);
  switch (o.kind) {
    case 'string':
      if (raw === '') throw new UsageError(`${name}: empty value`);
      return raw;
    case 'address':
      try {
        parseMetricsAddress(raw);
      } catch {
        throw new UsageError(`${name}: '${raw}' is not HOST:PORT`);
      }
      return raw;
    case 'size':
      return parseSize(name, raw);
    case 'count': {
      const n = parseCount(name, raw, o.max);
      if (o.min !== undefined && n < o.min) throw new UsageError(`${name}: '${raw}' is too small (at least ${o.min})`);
      return n;
    }
    case 'duration':
      refuseNegative(name, raw, 'a duration such as 1h or 30m, 0 for off');
      return parseWith(() => parseDuration(name, raw));
    case 'seconds':
    case 'ratio': {
      refuseNegative(name, raw, o.kind === 'ratio' ? 'a number in [0, 1)' : 'a number of seconds, 0 or more');
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (o.kind === 'ratio' && n >= 1)) {
        throw new UsageError(`${name}: '${raw}' is not ${o.kind === 'ratio' ? 'a number in [0, 1)' : 'a number of seconds'}`);
      }
      return n;
    }
  }
}

/** Sets the client options given as flags of these doors on cfg. */
export function applyFlags(cfg: ClientConfig, p: Parsed, ...doors: OptionDoor[]): ClientConfig {
  for (const o of rows(doors)) {
    const raw = p.values[o.flag];
    if (raw === undefined || raw === false) continue;
    setOption(cfg, o.path, value(o, raw, '--'));
  }
  checkConfigFlags(cfg);
  return cfg;
}

/**
 * Splits `-o` mount options: FerryFS's own (`cache-dir=/x`, `writeback`, `ro`) go into cfg, the rest are
 * returned for FUSE (allow_other, ...). mount(8)'s own options, which mean nothing here, are dropped.
 */
export function applyMountOptions(cfg: ClientConfig, lists: string[]): string[] {
  const byName = new Map(rows(['service', 'local', 'group', 'mount']).map((o) => [o.flag, o]));
  const fuse: string[] = [];
  for (const list of lists) {
    for (const item of list.split(',')) {
      if (!item) continue;
      const eq = item.indexOf('=');
      const given = eq < 0 ? item : item.slice(0, eq);
      // FerryFS's own options also in fstab's underscore spelling (token_file=...).
      const key = byName.has(given.replace(/_/g, '-')) ? given.replace(/_/g, '-') : given;
      const raw = eq < 0 ? true : item.slice(eq + 1);
      if (key === 'ro') setOption(cfg, ['readOnly'], true);
      else if (key === 'writeback_cache') setOption(cfg, ['mount', 'kernelWritebackCache'], true);
      else if (MOUNT8_OPTIONS.has(key) || key.startsWith('x-')) continue;
      else if (byName.has(key)) setOption(cfg, byName.get(key)!.path, value(byName.get(key)!, raw, '-o '));
      else fuse.push(item);
    }
  }
  checkConfigFlags(cfg);
  return fuse;
}

/** Options mount(8) and fstab use that mean nothing to a FUSE file system. */
const MOUNT8_OPTIONS = new Set(['rw', 'defaults', 'auto', 'noauto', 'user', 'users', 'nouser', 'nofail', '_netdev', 'dev', 'nodev', 'suid', 'nosuid', 'exec', 'noexec', 'relatime', 'noatime', 'comment']);

function checkConfigFlags(cfg: ClientConfig): void {
  if (cfg.cache?.writeback && !cfg.cache.dir) throw new UsageError('--writeback needs --cache-dir DIR: written blocks are staged there until they are uploaded');
}
