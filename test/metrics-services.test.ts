// --metrics on the other long-running processes: a mirror replicator (its lag and applied version follow the
// source) and a cache-group member (`ferry cache serve`); both record role and metrics address in their sessions.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseMetrics, scrape } from '../src/cli/scrape.js';
import { ferry, MAIN, ok } from './helpers/cli.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

function value(text: string, name: string): number {
  let n = 0;
  for (const f of parseMetrics(text)) for (const s of f.samples) if (s.name === name) n += s.value;
  return n;
}

function sessionsOf(url: string): Array<Record<string, unknown>> {
  return (JSON.parse(ok(ferry(process.cwd(), ['status', '--json', url])).stdout) as { sessions: Array<Record<string, unknown>> }).sessions;
}

const children: ChildProcess[] = [];
const vols: TempVolume[] = [];

after(async () => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
  for (const v of vols) await v.cleanup();
});

/** Starts `ferry ARGS` and waits for its metrics address on stderr. */
function start(args: string[]): Promise<string> {
  const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
  children.push(c);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no metrics address from ferry ${args[0]}: ${out}`)), 60_000);
    const look = (d: Buffer) => {
      out += d.toString();
      const m = /metrics at http:\/\/(\S+)\/metrics/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    c.stdout!.on('data', look);
    c.stderr!.on('data', look);
    c.once('exit', (code) => reject(new Error(`ferry ${args[0]} exited ${code}: ${out}`)));
  });
}

describe('metrics of services', () => {
  test('a mirror replicator: applied version and lag follow the source', async () => {
    const src = await tempVolume();
    vols.push(src);
    const mirrorUrl = `sqlite3://${join(src.dir, 'mirror.db')}`;
    ok(ferry(process.cwd(), ['mirror', 'create', src.url, mirrorUrl]));
    const address = await start(['mirror', 'run', mirrorUrl, '--metrics', '127.0.0.1:0']);
    for (let i = 0; i < 5; i++) await src.v.writeFile(`/f${i}`, Buffer.from('x'));
    const version = await (await import('./helpers/volume.js')).metaOf(src.v).currentVersion();
    let text = '';
    for (let i = 0; i < 200; i++) {
      text = await scrape(address);
      if (value(text, 'ferry_mirror_applied_version') >= version) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(value(text, 'ferry_mirror_applied_version') >= version, text);
    assert.equal(value(text, 'ferry_mirror_lag_versions'), 0);
    assert.ok(value(text, 'ferry_meta_op_duration_seconds_count') > 0, 'the replicator\'s metadata calls are timed');
    const s = sessionsOf(mirrorUrl).find((x) => x.role === 'replicator');
    assert.ok(s, 'a replicator session');
    assert.equal(s.metrics, address);
  });

  test('a cache-group member: its session and the cache figures', async () => {
    const v = await tempVolume();
    vols.push(v);
    const address = await start(['cache', 'serve', v.url, '--cache-group', 'g', '--cache-dir', join(v.dir, 'cache'), '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0']);
    const text = await scrape(address);
    for (const n of ['ferry_cache_hits_total', 'ferry_cache_used_bytes', 'ferry_cache_group_bytes_total']) assert.ok(parseMetrics(text).some((f) => f.name === n), n);
    const s = sessionsOf(v.url).find((x) => x.role === 'cache-member');
    assert.ok(s, 'a cache-member session');
    assert.equal(s.metrics, address);
  });
});
