// Shared output: one-line error messages, human sizes, modes and times, tables, and progress lines that
// appear only when stderr is a terminal.
import { ERRNO_MESSAGES, isErrnoCode } from '../errors.js';

/** The one line printed for an error (`ferry: <this>`): never a stack, never several lines. */
export function describeError(e: unknown): string {
  if (e && typeof e === 'object') {
    const err = e as { name?: string; code?: unknown; message?: unknown; description?: unknown; path?: unknown; syscall?: unknown };
    const listen = e as { syscall?: unknown; address?: unknown; port?: unknown };
    if (err.code === 'EADDRINUSE' && listen.syscall === 'listen') {
      const host = typeof listen.address === 'string' && listen.address.includes(':') ? `[${listen.address}]` : listen.address;
      return `port ${host}:${listen.port} is already in use`;
    }
    let msg = typeof err.message === 'string' ? err.message : String(e);
    // An FsError with its own explanation (no path/syscall context) reads better without the errno prefix.
    if (err.name === 'FsError' && typeof err.description === 'string' && err.path === undefined && err.syscall === undefined) {
      if (!isErrnoCode(err.code) || err.description !== ERRNO_MESSAGES[err.code]) msg = err.description;
    }
    return oneLine(msg || String(err.code ?? 'unknown error'));
  }
  return oneLine(String(e));
}

export function oneLine(s: string): string {
  return s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; exact byte counts stay integers below 1 KiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < SIZE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '')} ${SIZE_UNITS[i]}`;
}

/** Block sizes and limits: "4M", "64K", exact when possible. */
export function formatSizeShort(n: number): string {
  for (const [u, m] of [['P', 2 ** 50], ['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (n >= m && n % m === 0) return `${n / m}${u}`;
  }
  return String(n);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatRate(bytes: number, ms: number): string {
  return `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : bytes)}/s`;
}

const TYPE_CHARS: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', block: 'b', char: 'c', socket: 's' };

/** rwx string like ls: `drwxr-xr-x`, with setuid/setgid/sticky. */
export function modeString(type: string, mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    (TYPE_CHARS[type] ?? '?') +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Seconds + nanoseconds (metadata times) as an ISO date with nanoseconds. */
export function formatTimeNs(sec: number, nsec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}

/** `ls -l` style date: "Nov 22 02:31" within six months, "Nov 22  2023" otherwise. */
export function lsDate(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const recent = Math.abs(Date.now() - d.getTime()) < 182 * 86400_000;
  const day = String(d.getDate()).padStart(2, ' ');
  const tail = recent ? `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}` : ` ${d.getFullYear()}`;
  return `${months[d.getMonth()]} ${day} ${tail}`;
}

export function ago(ms: number): string {
  if (ms < 0) ms = 0;
  return `${formatDuration(ms)} ago`;
}

/** Aligns rows into columns; `right` lists the columns aligned to the right (numbers). */
export function table(rows: string[][], right: number[] = []): string {
  if (!rows.length) return '';
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 && !right.includes(i) ? c : right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
          .join('  '),
      )
      .join('\n') + '\n'
  );
}

/** Thrown by out() once the reader of stdout went away (`ferry ls -R ... | head`): the command unwinds quietly. */
export class OutputClosed extends Error {
  constructor() {
    super('standard output was closed');
    this.name = 'OutputClosed';
  }
}

let stdoutGone = false;

/** Called by main when stdout reports EPIPE. */
export function markStdoutGone(): void {
  stdoutGone = true;
  process.stdout.emit('ferry:gone');
}

/** Writes to stdout, waiting when the pipe is full (so `ferry ls | head` and big outputs behave). */
export async function out(s: string | Uint8Array): Promise<void> {
  if (stdoutGone) throw new OutputClosed();
  if (process.stdout.write(s)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (gone: boolean) => {
      process.stdout.off('drain', onDrain);
      process.stdout.off('ferry:gone', onGone);
      if (gone) reject(new OutputClosed());
      else resolve();
    };
    const onDrain = () => done(false);
    const onGone = () => done(true);
    process.stdout.on('drain', onDrain);
    process.stdout.on('ferry:gone', onGone);
  });
}

/** A progress line on stderr, redrawn at most 10 times a second, and only when stderr is a terminal. */
export class Progress {
  private last = 0;
  private shown = false;
  readonly enabled: boolean;
  readonly started = Date.now();

  constructor(private readonly label: string) {
    this.enabled = process.stderr.isTTY === true && !process.env.FERRY_NO_PROGRESS;
  }

  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const line = `${this.label}: ${text}`;
    const cols = process.stderr.columns || 80;
    process.stderr.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    this.shown = true;
  }

  /** Clears the line so the summary that follows starts clean. */
  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
