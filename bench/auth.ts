// npm run bench:auth — what service authentication and TLS cost the metadata service: one SQLite volume served
// by three meta-servers (each in a process of its own) — plain (no credential checked: the baseline), HMAC
// auth, HMAC auth + TLS — and the same client operations against each, in one run, as one table:
// sequential latency p50/p99 of getattr and mkdir, and getattr ops/s with 16 concurrent callers.
// A benchmark, never a test.
//
//   node dist/bench/auth.js [--ops 3000] [--rounds 5]
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newFormat } from '../src/meta/format.js';
import { openMeta } from '../src/meta/index.js';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';

type Mode = 'plain' | 'auth' | 'auth+tls';

// ---- the server side (a forked copy of this script) ----

if (process.argv[2] === '--serve') {
  const [, , , mode, url, dir] = process.argv as [string, string, string, Mode, string, string];
  const server = new MetaServer(url, {
    unauthenticated: mode === 'plain',
    tls: mode === 'auth+tls' ? { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') } : undefined,
  });
  const addr = await server.listen('127.0.0.1', 0);
  process.send!({ addr });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ops: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' } } });
  const ops = Number(values.ops);
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-auth-'));
  const children: ChildProcess[] = [];
  try {
    const url = `sqlite3://${join(dir, 'meta.db')}`;
    const m = await openMeta(url);
    await m.init(newFormat({ name: 'benchauth', storage: `file://${join(dir, 'blocks')}` }));
    const secret = (await m.load()).services!.secret;
    await m.close();
    writeFileSync(join(dir, 'secret'), secret, { mode: 0o600 });
    // A CA and a server certificate for 127.0.0.1, made with the openssl CLI.
    const ssl = (args: string[]) => {
      const r = spawnSync('/usr/bin/openssl', args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=bench CA']);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=bench']);
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);

    // All three servers run at once and the modes take turns, round after round: on a shared machine a
    // burst of load then hits every mode alike instead of one of them.
    const modes: Mode[] = ['plain', 'auth', 'auth+tls'];
    const metas = new Map<Mode, Meta>();
    for (const mode of modes) {
      const child = fork(process.argv[1]!, ['--serve', mode, url, dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const addr = await new Promise<string>((resolve, reject) => {
        child.once('message', (msg: { addr: string }) => resolve(msg.addr));
        child.once('exit', (code) => reject(new Error(`the ${mode} server exited with ${code}`)));
      });
      const q = mode === 'auth+tls' ? `?secret-file=${join(dir, 'secret')}&tls-ca=${join(dir, 'ca.pem')}` : `?secret-file=${join(dir, 'secret')}`;
      metas.set(mode, await openMeta(`${addr}${q}`));
    }
    const ctx = rootContext();
    const samples = new Map<Mode, { get: number[]; mk: number[]; rates: number[] }>(modes.map((m) => [m, { get: [], mk: [], rates: [] }]));
    const per = Math.ceil(ops / rounds);
    for (let round = 0; round < rounds; round++) {
      for (const mode of modes) {
        const meta = metas.get(mode)!;
        const s = samples.get(mode)!;
        // Warm-up: connections (TLS handshakes), JIT.
        for (let i = 0; i < 50; i++) await meta.getattr(ctx, ROOT_INODE);
        for (let i = 0; i < per; i++) {
          const t = performance.now();
          await meta.getattr(ctx, ROOT_INODE);
          s.get.push(performance.now() - t);
        }
        for (let i = 0; i < Math.ceil(per / 2); i++) {
          const t = performance.now();
          await meta.mkdir(ctx, ROOT_INODE, `${mode}-${round}-${i}`, 0o755);
          s.mk.push(performance.now() - t);
        }
        let left = per * 2;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (left-- > 0) await meta.getattr(ctx, ROOT_INODE);
          }),
        );
        s.rates.push((per * 2) / ((performance.now() - t0) / 1000));
      }
    }
    for (const meta of metas.values()) await meta.close();
    const results = modes.map((mode) => {
      const s = samples.get(mode)!;
      return { mode, getP50: pct(s.get, 50), getP99: pct(s.get, 99), mkP50: pct(s.mk, 50), mkP99: pct(s.mk, 99), opsPerSec: pct(s.rates, 50) };
    });
    const base = results[0]!;
    const head = ['meta-server', 'getattr p50', 'getattr p99', 'mkdir p50', 'mkdir p99', 'getattr ops/s (16 callers)', 'ops/s vs plain'];
    const rows = results.map((r) => [
      r.mode,
      ms(r.getP50),
      ms(r.getP99),
      ms(r.mkP50),
      ms(r.mkP99),
      r.opsPerSec.toFixed(0),
      `${((r.opsPerSec / base.opsPerSec - 1) * 100).toFixed(1)}%`,
    ]);
    console.log(
      `\nbench:auth — per mode ${ops} sequential getattr, ${Math.ceil(ops / rounds / 2) * rounds} mkdir, ${ops * 2} getattr from 16 callers (ops/s: median of ${rounds} rounds, modes taking turns);` +
        ` SQLite behind each meta-server; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}`,
    );
    table(head, rows);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function ms(x: number): string {
  return `${x.toFixed(3)} ms`;
}

function table(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  console.log(`${line(head)}\n|${w.map((n, i) => (i ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
