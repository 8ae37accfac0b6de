// Issue 25's benchmark of the CSI driver (`ferry csi --mode all` on a Unix socket, driven as the kubelet
// drives it, real FUSE mounts), each figure beside what a node pays without the driver's sharing:
//  1. CreateVolume to a pod's first successful write (create + stage + publish + write), beside a plain
//     `ferry mount` of the same directory and the write;
//  2. NodePublish to readable for a second pod of the node (shared mount; goal under 50 ms), beside a
//     separate `ferry mount` for that pod, and beside the same with the bind mount done by exec'ing mount(8)
//     (a second driver with FERRY_MOUNT_EXEC=1: the driver before src/sys's mount(2) addon), interleaved;
//  3. memory (RSS) of the one mount process serving N published targets, beside N separate mounts.
// Small by default (N = 5 separate mounts); --full: N = 20 as the issue asks. Runs as root.
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mounts, unmountFuse } from '../src/fuse/teardown.js';
import { mountCap, startDriver } from '../test/helpers/csi.js';
import { formatVolume, mountFerry, type TestMount } from '../test/helpers/mount.js';

const full = process.argv.includes('--full');
const N = full ? 20 : 5;
const ROUNDS = full ? 5 : 3;
const MiB = 1 << 20;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Resident memory of a process and all its descendants (KiB). */
async function treeRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  let kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const tasks = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  for (const c of tasks.split(' ').filter(Boolean)) kib += await treeRss(Number(c));
  return kib;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (FUSE and bind mounts)');
  const vol = await formatVolume();
  const tmp = await mkdtemp(join(tmpdir(), 'ferry-csi-bench-'));
  const driver = await startDriver(join(tmp, 'csi.sock'), join(tmp, 'state'), ['--node-id', 'bench', '--mode', 'all']);
  const execDriver = await startDriver(join(tmp, 'csi-exec.sock'), join(tmp, 'state-exec'), ['--node-id', 'bench', '--mode', 'node'], { FERRY_MOUNT_EXEC: '1' });
  const secrets = { metaurl: vol.url };
  const cap = mountCap();
  const own: TestMount[] = [];
  try {
    // 1. CreateVolume -> first write, per fresh volume.
    const csiFirst: number[] = [];
    const parts = { create: [] as number[], stage: [] as number[], publish: [] as number[], write: [] as number[] };
    const plainFirst: number[] = [];
    let main: { id: string; staging: string; ctx: Record<string, string> } | undefined;
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = process.hrtime.bigint();
      const v = (await driver.controller('CreateVolume', { name: `bench-${i}`, capacity_range: { required_bytes: 256 * MiB }, volume_capabilities: [cap], parameters: { basePath: '/k8s' }, secrets })).volume;
      const t1 = process.hrtime.bigint();
      const staging = join(tmp, `staging-${i}`);
      await driver.node('NodeStageVolume', { volume_id: v.volume_id, staging_target_path: staging, volume_capability: cap, secrets, volume_context: v.volume_context });
      const t2 = process.hrtime.bigint();
      const target = join(tmp, `pod-${i}-0`);
      await driver.node('NodePublishVolume', { volume_id: v.volume_id, staging_target_path: staging, target_path: target, volume_capability: cap, volume_context: v.volume_context });
      const t3 = process.hrtime.bigint();
      await writeFile(join(target, 'first.txt'), 'hello\n');
      csiFirst.push(ms(t0));
      parts.create.push(Number(t1 - t0) / 1e6);
      parts.stage.push(Number(t2 - t1) / 1e6);
      parts.publish.push(Number(t3 - t2) / 1e6);
      parts.write.push(ms(t3));
      if (i === 0) main = { id: v.volume_id, staging, ctx: v.volume_context };
      // The same directory by hand: a plain `ferry mount --subdir` and the write.
      const p0 = process.hrtime.bigint();
      const m = await mountFerry(vol.url, join(tmp, `plain-${i}`), ['--subdir', v.volume_id]);
      await writeFile(join(m.mp, 'plain.txt'), 'hello\n');
      plainFirst.push(ms(p0));
      await m.unmount();
    }

    // 2. A second pod of the node: NodePublish -> readable.
    const second: number[] = [];
    const publishOnly: number[] = [];
    const secondExec: number[] = [];
    const publishOnlyExec: number[] = [];
    const execStaging = join(tmp, 'staging-exec');
    await execDriver.node('NodeStageVolume', { volume_id: main!.id, staging_target_path: execStaging, volume_capability: cap, secrets, volume_context: main!.ctx });
    await execDriver.node('NodePublishVolume', { volume_id: main!.id, staging_target_path: execStaging, target_path: join(tmp, 'pod-exec-0'), volume_capability: cap, volume_context: main!.ctx });
    for (let k = 1; k < N; k++) {
      for (const [d, staging, name, all, pub] of [
        [driver, main!.staging, `pod-0-${k}`, second, publishOnly],
        [execDriver, execStaging, `pod-exec-${k}`, secondExec, publishOnlyExec],
      ] as const) {
        const target = join(tmp, name);
        const t0 = process.hrtime.bigint();
        await d.node('NodePublishVolume', { volume_id: main!.id, staging_target_path: staging, target_path: target, volume_capability: cap, volume_context: main!.ctx });
        pub.push(ms(t0));
        await readFile(join(target, 'first.txt'));
        all.push(ms(t0));
      }
    }
    const separate: number[] = [];
    for (let k = 0; k < N; k++) {
      const t0 = process.hrtime.bigint();
      const m = await mountFerry(vol.url, join(tmp, `separate-${k}`), ['--subdir', main!.id]);
      own.push(m);
      await readFile(join(m.mp, 'first.txt'));
      separate.push(ms(t0));
    }

    // 3. Memory: the driver's one mount process with N targets, the N separate mounts.
    const state = JSON.parse(await readFile(join(tmp, 'state/state.json'), 'utf8')) as Array<{ volumeId: string; pid: number }>;
    const sharedKiB = await treeRss(state.find((s) => s.volumeId === main!.id)!.pid);
    let separateKiB = 0;
    for (const m of own) separateKiB += await treeRss(m.child.pid!);

    const f = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
    const rows: Array<[string, string, string]> = [
      ['CreateVolume -> first write (median)', f(median(csiFirst)), `${f(median(plainFirst))} (plain ferry mount + write)`],
      ['  create / stage / publish / write', `${f(median(parts.create))} / ${f(median(parts.stage))} / ${f(median(parts.publish))} / ${f(median(parts.write))}`, ''],
      [`NodePublish -> readable, 2nd..${N}th pod (median; goal < 50 ms)`, f(median(second)), `${f(median(separate))} (a separate ferry mount per pod)`],
      [`  of which NodePublish (bind mount by mount(2))`, f(median(publishOnly)), ''],
      [`  slowest of ${N - 1}`, f(Math.max(...second)), f(Math.max(...separate))],
      [`  before: bind by exec'ing mount(8) (median / of which publish)`, `${f(median(secondExec))} / ${f(median(publishOnlyExec))}`, ''],
      [`  before: slowest of ${N - 1}`, f(Math.max(...secondExec)), ''],
      [`RSS: one mount process, ${N} targets vs ${N} mounts`, `${(sharedKiB / 1024).toFixed(0)} MiB`, `${(separateKiB / 1024).toFixed(0)} MiB`],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['', 'CSI (shared mount)', 'without sharing'][i]!.length));
    const line = (r: string[]) => `| ${r.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
    console.log(`\nferry csi, ${ROUNDS} fresh volumes, ${N} pods of one node${full ? '' : ' (--full: 20)'}; SQLite + file store; load average ${loadavg()[0]!.toFixed(1)}`);
    console.log(line(['', 'CSI (shared mount)', 'without sharing']));
    console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    for (const m of own) await m.unmount().catch(() => undefined);
    await driver.stop();
    await execDriver.stop();
    for (const m of (await mounts()).filter((x) => x.mountpoint.startsWith(tmp + '/')).reverse()) await unmountFuse(m.mountpoint, { force: true }).catch(() => undefined);
    if (!(await mounts()).some((m) => m.mountpoint.startsWith(tmp + '/'))) await rm(tmp, { recursive: true, force: true });
    await vol.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
