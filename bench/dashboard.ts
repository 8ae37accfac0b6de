// npm run bench:dashboard — how long the dashboard's API takes to answer for a volume with many sessions and
// quotas (GET /api/volumes/0: ferry status's read plus the quota list, trash and tips), next to `ferry
// status --json` (a process: what an operator or a cron script pays) and to its data function called
// in-process (volumeStatus, the part both share), on SQLite. Small by default; --full for 2000 sessions and
// 500 quotas. A benchmark, never a test.
//
//   node dist/bench/dashboard.js [--sessions 200] [--quotas 50] [--runs 15] [--full]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Dashboard } from '../src/dashboard/server.js';
import { volumeStatus } from '../src/client/status.js';
import { openMeta } from '../src/meta/index.js';
import { busyVolume } from '../test/helpers/dashboard-fixture.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const full = process.argv.includes('--full');
const sessions = Number(arg('sessions', full ? '2000' : '200'));
const quotas = Number(arg('quotas', full ? '500' : '50'));
const runs = Number(arg('runs', '15'));
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function time(fn: () => unknown): Promise<number[]> {
  await fn(); // warm
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function main(): Promise<void> {
  process.stdout.write(`building a volume with ${sessions} extra sessions and ${quotas} extra quotas...\n`);
  const busy = await busyVolume({ extraSessions: sessions, extraQuotas: quotas });
  const url = busy.t.url;
  const dash = new Dashboard({ volumes: [{ url, open: () => openMeta(url) }], auth: false, reuseMs: 0 });
  const a = await dash.listen('127.0.0.1', 0);
  const api = `http://127.0.0.1:${a.port}/api/volumes/0`;
  const meta = await openMeta(url);
  let bytes = 0;
  let statusBytes = 0;
  const readMs: number[] = [];
  try {
    const rows: Array<[string, number[], string]> = [
      ['ferry status --json (process)', await time(() => (statusBytes = execFileSync(process.execPath, [MAIN, 'status', '--json', url]).length)), `${Math.round(statusBytes / 1024)} KiB`],
      ['volumeStatus() in-process', await time(async () => volumeStatus(meta, await meta.load())), '-'],
      ['quotaList() in-process (in the API read)', await time(() => meta.quotaList()), '-'],
      ['dashboard GET /api/volumes/0', await time(async () => {
        const body = Buffer.from(await (await fetch(api)).arrayBuffer());
        bytes = body.length;
        readMs.push(JSON.parse(body.toString()).readMs);
      }), `${Math.round(bytes / 1024)} KiB`],
    ];
    rows.push(['  of which the volume read (readMs)', readMs.slice(1).sort((a, b) => a - b), '-']);
    const view = (await (await fetch(api)).json()) as { sessions: unknown[]; quotas: unknown[]; readMs: number };
    process.stdout.write(`\nSQLite volume: ${view.sessions.length} sessions, ${view.quotas.length} quotas; ${runs} runs each (after one warm-up)\n\n`);
    const head = ['what', 'median ms', 'p90 ms', 'min ms', 'answer'];
    const table = [head, ...rows.map(([n, xs, size]) => [n, q(xs, 0.5).toFixed(1), q(xs, 0.9).toFixed(1), xs[0]!.toFixed(1), size])];
    const w = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const r of table) process.stdout.write(r.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ') + '\n');
  } finally {
    await meta.close();
    await dash.close();
    await busy.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:dashboard: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
