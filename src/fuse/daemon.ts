// Where a background mount keeps its log and pid file: /var/log/ferry as root, ~/.ferry otherwise.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function daemonDir(): string {
  return process.getuid?.() === 0 ? '/var/log/ferry' : join(homedir(), '.ferry');
}

function escapeMountpoint(mp: string): string {
  return resolve(mp).replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '-') || 'root';
}

export function logFileFor(mp: string): string {
  return join(daemonDir(), `mount-${escapeMountpoint(mp)}.log`);
}

export function pidFileFor(mp: string): string {
  return join(daemonDir(), `mount-${escapeMountpoint(mp)}.pid`);
}

/** The client config of a running daemon (JSON), for a process taking the mount over. */
export function configFileFor(mp: string): string {
  return join(daemonDir(), `mount-${escapeMountpoint(mp)}.json`);
}
