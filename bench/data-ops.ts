// What the data-management benchmarks (bench:data-management, bench:trash, bench:quota, bench:ttl) share:
// their flags, the engines' URLs, the timed loops over the Meta interface, and the table they print.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Meta } from '../src/meta/interface.js';
import { AT_END, ROOT_INODE, TYPE_FILE, rootContext } from '../src/meta/types.js';
import { serverUrl, uniquePrefix, withOptions } from '../test/helpers/servers.js';

export const ROOT = rootContext();

export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** Fresh metadata URLs for an engine (SQLite files in one temp directory, removed by cleanup). */
export function engineUrls(tag: string): { url(engine: string): string; cleanup(): void } {
  const tmp = mkdtempSync(join(tmpdir(), `bench-${tag}-`));
  return {
    url(engine) {
      if (engine === 'sqlite') return `sqlite3://${join(tmp, `${Math.random().toString(36).slice(2)}.db`)}`;
      return withOptions(serverUrl(engine as 'postgres'), { prefix: uniquePrefix(tag) });
    },
    cleanup: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

export const rate = (n: number, ms: number) => ((n * 1000) / ms).toFixed(0);
export const secs = (n: number, ms: number) => `${(ms / 1000).toFixed(1)} s (${rate(n, ms)}/s)`;
/** Throughput lost, from the times the same work took without and with a feature. */
export const cost = (msOff: number, msOn: number) => `${((1 - msOff / msOn) * 100).toFixed(1)}%`;

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

let seq = 0;
/** ms for n create+release+unlink in dir, one after another. */
export async function createUnlink(m: Meta, dir: number, n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const name = `f${seq++}`;
    const f = await m.create(ROOT, dir, name, 0o644, 0);
    await m.release(ROOT, f.inode);
    await m.unlink(ROOT, dir, name);
  }
  return performance.now() - t;
}

/** ms for n 4 KiB slices appended to a file, each a write commit. */
export async function appends(m: Meta, file: number, n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const id = await m.newSliceId();
    await m.writeSlice(ROOT, file, 0, AT_END, { id, size: 4096, off: 0, len: 4096 });
  }
  return performance.now() - t;
}

/** Creates n empty files in dir, a few in flight (setting up, not measured). */
export async function fill(m: Meta, dir: number, n: number, prefix = 'file'): Promise<void> {
  for (let i = 0; i < n; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, k) => m.mknod(ROOT, dir, `${prefix}-${i + k}`, TYPE_FILE, 0o644)));
  }
}

/** ms for `rm -rf` of directory `name` in parent: readdir + unlink page by page, then the rmdir. */
export async function rmrf(m: Meta, parent: number, name: string): Promise<number> {
  const d = (await m.lookup(ROOT, parent, name)).inode;
  const t = performance.now();
  for (;;) {
    const page = await m.readdir(ROOT, d, { limit: 1000 });
    if (!page.length) break;
    for (const e of page) await m.unlink(ROOT, d, e.name);
  }
  await m.rmdir(ROOT, parent, name);
  return performance.now() - t;
}

export { ROOT_INODE };
