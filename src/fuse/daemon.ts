// Where background daemons (ferry mount -d, gateway -d, ...) keep their log and pid files: /var/log/ferry as
// root, ~/.ferry otherwise, one name per daemon (kind plus what it serves: a mount point, an address, a URL).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function daemonDir(): string {
  return process.getuid?.() === 0 ? '/var/log/ferry' : join(homedir(), '.ferry');
}

/** A file of the daemon of this kind serving key (`gateway`, `0.0.0.0:9000` -> gateway-0.0.0.0-9000.log). */
export function daemonFile(kind: string, key: string, ext: 'log' | 'pid' | 'json'): string {
  const name = key.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '-') || 'root';
  return join(daemonDir(), `${kind}-${name}.${ext}`);
}

export function logFileFor(mp: string): string {
  return daemonFile('mount', resolve(mp), 'log');
}

export function pidFileFor(mp: string): string {
  return daemonFile('mount', resolve(mp), 'pid');
}

/** The client config of a running daemon (JSON), for a process taking the mount over. */
export function configFileFor(mp: string): string {
  return daemonFile('mount', resolve(mp), 'json');
}

/** Where a mount with --metrics records its metrics address and pid (`ferry stats MOUNTPOINT` reads it). */
export function metricsFileFor(mp: string): string {
  return daemonFile('mount', resolve(mp), 'json').replace(/\.json$/, '.metrics.json');
}
