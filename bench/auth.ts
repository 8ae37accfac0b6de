// npm run bench:auth — what service authentication and TLS cost the metadata service: one SQLite volume served
// by three meta-servers (each in a process of its own) — plain (no credential checked: the baseline), HMAC
// auth, HMAC auth + TLS — and the same client operations against each, in one run, as one table:
// sequential latency p50/p99 of getattr and mkdir, and getattr ops/s with 16 concurrent callers. Each mode is
// measured on loopback and again through a delay proxy of --link-ms each way (default 0.5: a 1 ms round trip,
// a client in the next zone — a meta-server is reached over a network, never over loopback, and what TLS
// costs per round trip is a fixed ~0.04 ms that loopback makes look large).
// A benchmark, never a test.
//
//   node dist/bench/auth.js [--ops 3000] [--rounds 5] [--link-ms 0.5]
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type RequestListener } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newFormat } from '../src/meta/format.js';
import { openMeta } from '../src/meta/index.js';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import type { Meta } from '../src/meta/interface.js';
import { DelayProxy } from './delay-proxy.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';
import { encode } from '../src/meta/engines/remote/codec.js';
import { signRequest } from '../src/meta/service-auth.js';

type Mode = 'plain' | 'auth' | 'auth+tls';

// ---- the server side (a forked copy of this script) ----

if (process.argv[2] === '--floor') {
  // The floor: Node's own HTTP and HTTPS servers answering a getattr-sized reply with no metadata work, so the
  // table shows what TLS costs Node itself per round trip beside what it costs the meta-server.
  const dir = process.argv[3]!;
  const reply = process.argv[4]!;
  const handler: RequestListener = (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(reply));
  };
  const plain = createHttpServer({ keepAliveTimeout: 60_000 }, handler).listen(0, '127.0.0.1');
  const tls = createHttpsServer({ cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server.key')), keepAliveTimeout: 60_000 }, handler).listen(0, '127.0.0.1');
  await Promise.all([once(plain, 'listening'), once(tls, 'listening')]);
  process.send!({ http: (plain.address() as AddressInfo).port, https: (tls.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
} else if (process.argv[2] === '--serve') {
  const [, , , mode, url, dir] = process.argv as [string, string, string, Mode, string, string];
  const server = new MetaServer(url, {
    unauthenticated: mode === 'plain',
    tls: mode === 'auth+tls' ? { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') } : undefined,
  });
  const addr = await server.listen('127.0.0.1', 0);
  // The proxy runs here, so its work lands on the server's process, not on the measuring client's.
  const linkMs = Number(process.argv[6]);
  const proxy = linkMs > 0 ? new DelayProxy({ host: '127.0.0.1', port: Number(new URL(addr).port) }, linkMs) : undefined;
  const far = proxy ? `${new URL(addr).protocol}//127.0.0.1:${await proxy.listen()}` : undefined;
  process.send!({ addr, far });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ops: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' }, 'link-ms': { type: 'string', default: '0.5' } } });
  const ops = Number(values.ops);
  const rounds = Number(values.rounds);
  const linkMs = Number(values['link-ms']);
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
    const links = linkMs > 0 ? ['loopback', `+${linkMs * 2} ms RTT`] : ['loopback'];
    const setups: Array<{ mode: Mode; link: string; meta: Meta; get: number[]; mk: number[]; rates: number[] }> = [];
    for (const mode of modes) {
      const child = fork(process.argv[1]!, ['--serve', mode, url, dir, String(linkMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const { addr, far } = await new Promise<{ addr: string; far?: string }>((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`the ${mode} server exited with ${code}`)));
      });
      const q = mode === 'auth+tls' ? `?secret-file=${join(dir, 'secret')}&tls-ca=${join(dir, 'ca.pem')}` : `?secret-file=${join(dir, 'secret')}`;
      for (const [i, a] of [addr, far].entries()) if (a) setups.push({ mode, link: links[i]!, meta: await openMeta(`${a}${q}`), get: [], mk: [], rates: [] });
    }
    const ctx = rootContext();
    const per = Math.ceil(ops / rounds);
    // The floor's requests are a getattr call's, signed, and its answers a getattr answer's size.
    const callBody = encode({ method: 'getattr', args: [ctx, ROOT_INODE], keep: false });
    const reply = encode({ value: await setups[0]!.meta.getattr(ctx, ROOT_INODE) });
    const floorChild = fork(process.argv[1]!, ['--floor', dir, reply], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(floorChild);
    const ports = (await once(floorChild, 'message'))[0] as { http: number; https: number };
    const ca = readFileSync(join(dir, 'ca.pem'));
    const floors = [
      { name: 'node http', call: rawCall(httpRequest, ports.http, new HttpAgent({ keepAlive: true, maxSockets: 32 })), get: [] as number[], rates: [] as number[] },
      { name: 'node https', call: rawCall(httpsRequest as typeof httpRequest, ports.https, new HttpsAgent({ keepAlive: true, maxSockets: 32, ca }) as unknown as HttpAgent), get: [] as number[], rates: [] as number[] },
    ];
    function rawCall(req: typeof httpRequest, port: number, agent: HttpAgent): () => Promise<void> {
      return () =>
        new Promise((resolve, reject) => {
          const headers = { authorization: signRequest(secret, 'POST', '/call', callBody), 'x-ferry-client': 'floor', 'content-type': 'application/json', 'content-length': Buffer.byteLength(callBody) };
          const r = req({ host: '127.0.0.1', port, method: 'POST', path: '/call', agent, headers }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          r.on('error', reject);
          r.end(callBody);
        });
    }
    for (let round = 0; round < rounds; round++) {
      for (const s of setups) {
        const { meta } = s;
        // Warm-up: connections (TLS handshakes), JIT.
        for (let i = 0; i < 50; i++) await meta.getattr(ctx, ROOT_INODE);
        // Over the far link fewer sequential calls: each costs the round trip, and the point is their cost.
        const n = s.link === 'loopback' ? per : Math.ceil(per / 4);
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await meta.getattr(ctx, ROOT_INODE);
          s.get.push(performance.now() - t);
        }
        for (let i = 0; i < Math.ceil(n / 2); i++) {
          const t = performance.now();
          await meta.mkdir(ctx, ROOT_INODE, `${s.mode}-${s.link}-${round}-${i}`, 0o755);
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
      for (const f of floors) {
        for (let i = 0; i < 50; i++) await f.call();
        for (let i = 0; i < per; i++) {
          const t = performance.now();
          await f.call();
          f.get.push(performance.now() - t);
        }
        let left = per * 2;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (left-- > 0) await f.call();
        }));
        f.rates.push((per * 2) / ((performance.now() - t0) / 1000));
      }
    }
    for (const s of setups) await s.meta.close();
    const results = [...setups].sort((a, b) => links.indexOf(a.link) - links.indexOf(b.link)).map((s) => ({ mode: s.mode, link: s.link, getP50: pct(s.get, 50), getP99: pct(s.get, 99), mkP50: pct(s.mk, 50), mkP99: pct(s.mk, 99), opsPerSec: pct(s.rates, 50) }));
    const vs = (x: number, b: number) => `${((x / b - 1) * 100).toFixed(1).replace(/^(?!-)/, '+')}%`;
    const head = ['link', 'meta-server', 'getattr p50', 'vs plain', 'getattr p99', 'mkdir p50', 'vs plain', 'mkdir p99', 'getattr ops/s (16 callers)', 'vs plain'];
    const rows = results.map((r) => {
      const base = results.find((b) => b.link === r.link && b.mode === 'plain')!;
      return [r.link, r.mode, ms(r.getP50), vs(r.getP50, base.getP50), ms(r.getP99), ms(r.mkP50), vs(r.mkP50, base.mkP50), ms(r.mkP99), r.opsPerSec.toFixed(0), vs(r.opsPerSec, base.opsPerSec)];
    });
    console.log(
      `\nbench:auth — per mode and link, rounds of sequential getattr and mkdir (a quarter as many over the far link) and ${per * 2} getattr from 16 callers (ops/s: median of ${rounds} rounds); modes and links take turns;` +
        ` SQLite behind each meta-server; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}`,
    );
    table(head, rows);
    const fb = floors[0]!;
    console.log(`\nThe floor: Node's http and https servers answering the same signed getattr request with a reply of its size, no metadata work (one request per call: no batches), loopback`);
    table(
      ['server', 'p50', 'vs http', 'p99', 'ops/s (16 callers)', 'vs http'],
      floors.map((f) => [f.name, ms(pct(f.get, 50)), vs(pct(f.get, 50), pct(fb.get, 50)), ms(pct(f.get, 99)), pct(f.rates, 50).toFixed(0), vs(pct(f.rates, 50), pct(fb.rates, 50))]),
    );
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
