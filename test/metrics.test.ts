// Prometheus metrics of the long-running processes (--metrics HOST:PORT), scraped over HTTP and parsed with
// the strict parser of `ferry stats` (src/cli/prom-text.ts): a real FUSE mount (child process), a gateway and a meta-server, each doing
// work; the counters of that work must have moved. `ferry stats --json --count 1` reads the same endpoints
// by mount point, metadata URL and address; a busy metrics port is one line and a non-zero exit.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMetrics, scrape } from '../src/cli/scrape.js';
import { ferry, MAIN, ok, oneLineError, tempDir } from './helpers/cli.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { formatVolume, fuseTestOptions, mountFerry, type TestMount, type TestVolume } from './helpers/mount.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

type Families = ReturnType<typeof parseMetrics>;

/** Sum of a counter's or gauge's samples (histograms: their counts) whose labels match. */
function total(fams: Families, name: string, where: Record<string, string> = {}): number {
  let n = 0;
  for (const f of fams) {
    if (f.name !== name) continue;
    const sampleName = f.type === 'histogram' ? `${name}_count` : name;
    for (const s of f.samples) if (s.name === sampleName && Object.entries(where).every(([k, v]) => s.labels[k] === v)) n += s.value;
  }
  return n;
}

/** Scrapes and parses; also checks each family is declared once with the type its name promises. */
async function scrapeParsed(address: string): Promise<Families> {
  const text = await scrape(address);
  const fams = parseMetrics(text);
  const names = fams.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, 'each family once');
  for (const f of fams.filter((x) => x.name.startsWith('ferry_'))) {
    if (f.name.endsWith('_total')) assert.equal(f.type, 'counter', f.name);
    if (f.name.endsWith('_duration_seconds')) assert.equal(f.type, 'histogram', f.name);
  }
  return fams;
}

function sessionsOf(url: string): Array<Record<string, unknown>> {
  const r = ok(ferry(process.cwd(), ['status', '--json', url]));
  return (JSON.parse(r.stdout) as { sessions: Array<Record<string, unknown>> }).sessions;
}

/** Starts a child and waits for a line matching `re` on its stderr; killed in `after`. */
function startChild(args: string[], re: RegExp, children: ChildProcess[]): Promise<RegExpExecArray> {
  const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
  children.push(c);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} from ferry ${args[0]}: ${out}`)), 60_000);
    const look = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    c.stdout!.on('data', look);
    c.stderr!.on('data', look);
    c.once('exit', (code) => reject(new Error(`ferry ${args[0]} exited ${code}: ${out}`)));
  });
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

describe('metrics: a FUSE mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;
  let address: string;

  before(async () => {
    vol = await formatVolume();
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'), ['--metrics', '127.0.0.1:0']);
    address = /metrics at http:\/\/(\S+)\/metrics/.exec(m.output())![1]!;
  });

  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  test('FUSE, metadata and object-store counters move with the work done', async () => {
    const before = await scrapeParsed(address);
    const data = Buffer.alloc(300_000, 7);
    await writeFile(join(m.mp, 'f'), data);
    assert.deepEqual(await readFile(join(m.mp, 'f')), data);
    await stat(join(m.mp, 'f'));
    const after = await scrapeParsed(address);
    for (const op of ['write', 'lookup', 'create']) {
      assert.ok(total(after, 'ferry_fuse_op_duration_seconds', { op }) > total(before, 'ferry_fuse_op_duration_seconds', { op }), `fuse ${op}`);
    }
    assert.ok(total(after, 'ferry_meta_op_duration_seconds', { op: 'writeSlice' }) > total(before, 'ferry_meta_op_duration_seconds', { op: 'writeSlice' }));
    assert.ok(total(after, 'ferry_object_bytes_total', { op: 'put' }) >= total(before, 'ferry_object_bytes_total', { op: 'put' }) + data.length);
    assert.ok(total(after, 'ferry_object_request_duration_seconds', { op: 'put' }) > 0);
    assert.equal(total(after, 'ferry_build_info'), 1);
    assert.ok(total(after, 'process_resident_memory_bytes') > 0);
  });

  test('the session records the role and the metrics address; ferry stats finds it by mount point and META-URL', async () => {
    const s = sessionsOf(vol.url).find((x) => x.role === 'mount');
    assert.ok(s, 'a mount session');
    assert.equal(s.metrics, address);
    // The serving process records the session; the process `ferry mount` started is its supervisor.
    assert.equal(s.supervisor, m.child.pid);
    for (const target of [m.mp, vol.url, address]) {
      const r = ok(ferry(process.cwd(), ['stats', '--json', '--count', '1', '--interval', '0.2', target]));
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, r.stdout);
      const doc = JSON.parse(lines[0]!) as { endpoints: string[]; fuse: { total: number }; meta: { total: number }; usage: { memoryBytes: number } };
      assert.deepEqual(doc.endpoints, [address]);
      assert.ok(doc.fuse.total > 0 && doc.meta.total > 0 && doc.usage.memoryBytes > 0, r.stdout);
    }
    // The table: a header and two lines.
    const r = ok(ferry(process.cwd(), ['stats', '--count', '2', '--interval', '0.2', m.mp]));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0]!, /cpu +mem +\|fuse ops/);
  });

  test('ferry status shows the mount\'s open files once its heartbeat carries them', async () => {
    const fh = await open(join(m.mp, 'f'), 'r');
    try {
      // The figures travel with the heartbeat (every 10 s): wait for it, bounded.
      let s: Record<string, unknown> | undefined;
      for (let i = 0; i < 40; i++) {
        s = sessionsOf(vol.url).find((x) => x.role === 'mount');
        if (s?.openFiles === 1) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal(s?.openFiles, 1, JSON.stringify(s));
      assert.equal(s?.writebackPending, 0);
      const text = ok(ferry(process.cwd(), ['status', vol.url])).stdout;
      assert.match(text, /ROLE .*OPEN FILES +WB PENDING +METRICS/);
      assert.match(text, new RegExp(` mount .*${m.mp.replace(/[/.]/g, '\\$&')} .* 1 +0 +${address.replace(/\./g, '\\.')}`));
    } finally {
      await fh.close();
    }
  });
});

describe('metrics: gateway and meta-server', () => {
  let gw: ChildGateway;
  let vol: TempVolume;
  const children: ChildProcess[] = [];

  before(async () => {
    gw = await startChildGateway(['--metrics', '127.0.0.1:0']);
    vol = await tempVolume();
  });

  after(async () => {
    for (const c of children) await stopChild(c);
    await gw?.close();
    await vol?.cleanup();
  });

  test('the gateway counts S3 requests by operation and status, on --metrics and on /-/metrics', async () => {
    const s = sessionsOf(gw.t.url).find((x) => x.role === 'gateway');
    assert.ok(s && typeof s.metrics === 'string', 'the gateway session records its metrics address');
    const address = s.metrics as string;
    const before = await scrapeParsed(address);
    // Unsigned: refused (403), counted all the same.
    for (let i = 0; i < 3; i++) await fetch(`${gw.url}/bucket/key`).then((r) => r.arrayBuffer());
    const after = await scrapeParsed(address);
    const n = (f: Families) => total(f, 'ferry_gateway_requests_total', { status: '403' });
    assert.equal(n(after) - n(before), 3);
    assert.ok(total(after, 'ferry_gateway_request_duration_seconds') >= 3);
    assert.ok(total(after, 'ferry_meta_op_duration_seconds') > 0, 'the gateway client\'s metadata operations');
    // The S3 port's own endpoint serves the same registry.
    const same = parseMetrics(await (await fetch(`${gw.url}/-/metrics`)).text());
    assert.ok(n(same) >= n(after));
    const r = ok(ferry(process.cwd(), ['stats', '--json', '--count', '1', '--interval', '0.2', gw.t.url]));
    assert.ok((JSON.parse(r.stdout) as { gateway: { total: number } }).gateway.total >= 3, r.stdout);
  });

  test('the meta-server times each call and shows in ferry status', async () => {
    const [, serving, metrics] = await startChild(
      ['meta-server', vol.url, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'],
      /at ferry:\/\/(127\.0\.0\.1:\d+); metrics at http:\/\/(\S+)\/metrics/,
      children,
    );
    // Clients of a meta-server sign with the volume's service secret (docs/security.md).
    const secretFile = join(vol.dir, 'service.secret');
    ok(ferry(process.cwd(), ['config', vol.url, '--service-secret-file', secretFile]));
    ok(ferry(process.cwd(), ['ls', `ferry://${serving}?secret-file=${secretFile}`, '/']));
    const fams = await scrapeParsed(metrics!);
    assert.ok(total(fams, 'ferry_meta_op_duration_seconds', { op: 'readdir' }) + total(fams, 'ferry_meta_op_duration_seconds', { op: 'readdirPlus' }) > 0, 'readdir timed');
    assert.ok(total(fams, 'ferry_meta_op_duration_seconds', { op: 'load' }) > 0);
    const s = sessionsOf(vol.url).find((x) => x.role === 'meta-server');
    assert.ok(s, 'a meta-server session');
    assert.equal(s.metrics, metrics);
    assert.match(ok(ferry(process.cwd(), ['status', vol.url])).stdout, / meta-server .*meta-server ferry:\/\/127\.0\.0\.1:\d+/);
  });

  test('a busy metrics port is one line and a non-zero exit; a bad address is a usage error', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const dir = await tempDir();
      oneLineError(ferry(dir, ['meta-server', vol.url, '--listen', '127.0.0.1:0', '--metrics', `127.0.0.1:${port}`]), 1, new RegExp(`--metrics 127\\.0\\.0\\.1:${port}: the port is already in use`));
      oneLineError(ferry(dir, ['gateway', vol.url, '127.0.0.1:0', '--metrics', `127.0.0.1:${port}`]), 1, /the port is already in use/);
      oneLineError(ferry(dir, ['gateway', vol.url, '127.0.0.1:0', '--metrics', 'nowhere']), 2, /--metrics: 'nowhere' is not HOST:PORT/);
      oneLineError(ferry(dir, ['stats', '--count', '0', vol.url]), 2, /--count/);
      oneLineError(ferry(dir, ['stats', '--count', '1', dir]), 1, /no FerryFS mount with metrics there/);
    } finally {
      busy.close();
    }
  });
});
