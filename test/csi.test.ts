// Issue 25 items 1 and 5: the CSI driver (`ferry csi --mode all`, a real process on a Unix socket) driven as
// the kubelet and the external-provisioner/-resizer/-snapshotter drive it, with real FUSE mounts:
// create -> stage -> publish into two target paths -> write in one, read in the other -> expand -> stats ->
// snapshot -> restore -> unpublish -> unstage -> delete; the mount process killed (-9, whole tree) between
// two pod writes; the spec's status codes for bad requests; no metadata URL in any process's arguments.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { openMeta } from '../src/meta/index.js';
import { rootContext } from '../src/meta/types.js';
import { startDriver, mountCap, type CsiDriver } from './helpers/csi.js';
import { kubeReplay, type KubeReplay } from './helpers/kube-replay.js';
import { formatVolume, fuseTestOptions, type TestVolume } from './helpers/mount.js';
import { mounts, unmountFuse } from '../src/fuse/teardown.js';

const MiB = 1 << 20;
const opts = { ...fuseTestOptions(), timeout: 180_000 };

let vol: TestVolume;
let tmp: string;
let driver: CsiDriver;
let secrets: Record<string, string>;
let kube: KubeReplay;

const code = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
  } catch (e) {
    return (e as { code: number }).code;
  }
  return status.OK;
};

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fuseMountsUnder = async (dir: string) => (await mounts()).filter((m) => m.mountpoint.startsWith(dir + '/'));

before(async () => {
  if (opts.skip) return;
  vol = await formatVolume();
  const m = await openMeta(vol.url);
  await m.updateFormat({ trashDays: 1 }); // DeleteVolume goes through the trash
  await m.close();
  tmp = await mkdtemp(join(tmpdir(), 'ferry-csi-'));
  secrets = { metaurl: vol.url };
  // No cluster here: the claim's labels (pathPattern ${pvc.labels.KEY}) come from a replaying API server.
  kube = await kubeReplay(tmp);
  driver = await startDriver(join(tmp, 'csi.sock'), join(tmp, 'state'), ['--node-id', 'node-1', '--mode', 'all', '--region', 'r1', '--zone', 'z1'], { KUBECONFIG: kube.kubeconfig });
});

after(async () => {
  if (opts.skip) return;
  await driver?.stop();
  await kube?.close();
  // Whatever a failed test left: binds first, then the FUSE mounts.
  for (const m of (await fuseMountsUnder(tmp)).reverse()) await unmountFuse(m.mountpoint, { force: true }).catch(() => undefined);
  for (const m of (await mounts()).filter((x) => x.mountpoint.startsWith(tmp + '/')).reverse()) await unmountFuse(m.mountpoint, { force: true }).catch(() => undefined);
  if (!(await mounts()).some((m) => m.mountpoint.startsWith(tmp + '/'))) await rm(tmp, { recursive: true, force: true });
  await vol?.cleanup();
});

async function openMetaLoad() {
  const m = await openMeta(vol.url);
  try {
    return await m.load();
  } finally {
    await m.close();
  }
}

test('identity: name, capabilities, probe, topology', opts, async () => {
  const info = await driver.identity('GetPluginInfo');
  assert.equal(info.name, 'csi.ferryfs.io');
  const caps = await driver.identity('GetPluginCapabilities');
  assert.ok(caps.capabilities.some((c: any) => c.service?.type === 'CONTROLLER_SERVICE'));
  assert.ok(caps.capabilities.some((c: any) => c.volume_expansion?.type === 'ONLINE'));
  assert.equal((await driver.identity('Probe')).ready.value, true);
  const ni = await driver.node('NodeGetInfo');
  assert.equal(ni.node_id, 'node-1');
  assert.deepEqual(ni.accessible_topology.segments, { 'topology.ferryfs.io/region': 'r1', 'topology.ferryfs.io/zone': 'z1' });
  const cc = (await driver.controller('ControllerGetCapabilities')).capabilities.map((c: any) => c.rpc.type);
  for (const t of ['CREATE_DELETE_VOLUME', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS', 'CLONE_VOLUME', 'EXPAND_VOLUME', 'LIST_VOLUMES']) assert.ok(cc.includes(t), t);
  const nc = (await driver.node('NodeGetCapabilities')).capabilities.map((c: any) => c.rpc.type);
  for (const t of ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME']) assert.ok(nc.includes(t), t);
});

test('bad requests get the spec\'s status codes', opts, async () => {
  const cap = [mountCap()];
  assert.equal(await code(driver.controller('CreateVolume', { volume_capabilities: cap, secrets })), status.INVALID_ARGUMENT, 'no name');
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', secrets })), status.INVALID_ARGUMENT, 'no capability');
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', volume_capabilities: [{ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }], secrets })), status.INVALID_ARGUMENT, 'block');
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', volume_capabilities: cap })), status.INVALID_ARGUMENT, 'no metaurl');
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', volume_capabilities: cap, parameters: { onDelete: 'shred' }, secrets })), status.INVALID_ARGUMENT);
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', volume_capabilities: cap, capacity_range: { required_bytes: 10 * MiB, limit_bytes: MiB }, secrets })), status.OUT_OF_RANGE);
  assert.equal(await code(driver.controller('DeleteVolume', { secrets })), status.INVALID_ARGUMENT, 'DeleteVolume without id');
  assert.equal(await code(driver.controller('ControllerExpandVolume', { volume_id: '/k8s/none', capacity_range: { required_bytes: MiB }, secrets })), status.NOT_FOUND);
  assert.equal(await code(driver.controller('ValidateVolumeCapabilities', { volume_id: '/k8s/none', volume_capabilities: cap, secrets })), status.NOT_FOUND);
  assert.equal(await code(driver.controller('CreateSnapshot', { source_volume_id: '/k8s/none', name: 's', secrets })), status.NOT_FOUND);
  assert.equal(await code(driver.controller('CreateVolume', { name: 'x', volume_capabilities: cap, volume_content_source: { snapshot: { snapshot_id: '/k8s/.snapshots/none' } }, secrets })), status.NOT_FOUND);
  assert.equal(await code(driver.node('NodeStageVolume', { volume_id: 'v', volume_capability: mountCap(), secrets })), status.INVALID_ARGUMENT, 'no staging path');
  assert.equal(await code(driver.node('NodePublishVolume', { volume_id: '/k8s/none', staging_target_path: join(tmp, 's'), target_path: join(tmp, 't'), volume_capability: mountCap() })), status.FAILED_PRECONDITION, 'not staged');
  assert.equal(await code(driver.node('NodeGetVolumeStats', { volume_id: 'v', volume_path: join(tmp, 'nowhere') })), status.NOT_FOUND);
  // The driver's log names the calls, never the metadata URL.
  assert.ok(!driver.output().includes(vol.url));
});

test('create -> stage -> publish twice -> write/read -> expand -> stats -> snapshot -> restore -> kill -> unpublish -> unstage -> delete', opts, async (t) => {
  const cap = [mountCap()];
  const params = { basePath: '/k8s', onDelete: 'delete', 'csi.storage.k8s.io/pv/name': 'pvc-1111', 'csi.storage.k8s.io/pvc/name': 'data', 'csi.storage.k8s.io/pvc/namespace': 'ml' };
  const created = (await driver.controller('CreateVolume', { name: 'pvc-1111', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: cap, parameters: params, secrets })).volume;
  assert.equal(created.volume_id, '/k8s/pvc-1111');
  assert.equal(created.capacity_bytes, 64 * MiB);
  // Idempotent; a different size for the same name is ALREADY_EXISTS.
  assert.equal((await driver.controller('CreateVolume', { name: 'pvc-1111', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: cap, parameters: params, secrets })).volume.volume_id, created.volume_id);
  assert.equal(await code(driver.controller('CreateVolume', { name: 'pvc-1111', capacity_range: { required_bytes: 65 * MiB }, volume_capabilities: cap, parameters: params, secrets })), status.ALREADY_EXISTS);
  assert.ok((await driver.controller('ValidateVolumeCapabilities', { volume_id: created.volume_id, volume_capabilities: cap, secrets })).confirmed);
  const listed = await driver.controller('ListVolumes', {});
  assert.ok(listed.entries.some((e: any) => e.volume.volume_id === '/k8s/pvc-1111' && e.volume.capacity_bytes === 64 * MiB));

  const id = created.volume_id as string;
  const ctx = created.volume_context;
  const staging = join(tmp, 'plugins/staging/pv-1111/globalmount');
  const [podA, podB, podR] = ['pod-a', 'pod-b', 'pod-r'].map((p) => join(tmp, 'pods', p, 'volumes/mount'));
  await driver.node('NodeStageVolume', { volume_id: id, staging_target_path: staging, volume_capability: cap[0], secrets, volume_context: ctx });
  await driver.node('NodeStageVolume', { volume_id: id, staging_target_path: staging, volume_capability: cap[0], secrets, volume_context: ctx }); // again: nothing new
  for (const t of [podA, podB]) await driver.node('NodePublishVolume', { volume_id: id, staging_target_path: staging, target_path: t!, volume_capability: cap[0], volume_context: ctx });
  await driver.node('NodePublishVolume', { volume_id: id, staging_target_path: staging, target_path: podR!, volume_capability: cap[0], readonly: true, volume_context: ctx });
  // One FUSE mount process for the three pods: one FUSE mount, the rest bind mounts of it.
  assert.equal((await fuseMountsUnder(tmp)).filter((m) => m.mountpoint === staging).length, 1);
  const stateFile = JSON.parse(await readFile(join(tmp, 'state/state.json'), 'utf8'));
  const pid = stateFile.find((v: any) => v.volumeId === id).pid as number;
  assert.equal((await fuseMountsUnder(tmp)).length, 4); // the stage mount and its three binds, all of one FUSE connection
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  assert.ok(!cmdline.some((a) => a.includes(vol.dir)), `the metadata URL is not in the mount's arguments: ${cmdline.join(' ')}`);

  await writeFile(join(podA!, 'hello.txt'), 'written in pod a\n');
  assert.equal(await readFile(join(podB!, 'hello.txt'), 'utf8'), 'written in pod a\n');
  assert.equal(await readFile(join(podR!, 'hello.txt'), 'utf8'), 'written in pod a\n');
  await assert.rejects(writeFile(join(podR!, 'no.txt'), 'x'), { code: 'EROFS' });

  // Stats: the claim's size (df in the pod), then raised by the resizer.
  const total = async () => (await driver.node('NodeGetVolumeStats', { volume_id: id, volume_path: podA! })).usage.find((u: any) => u.unit === 'BYTES');
  assert.equal((await total()).total, 64 * MiB);
  const expanded = await driver.controller('ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: 128 * MiB }, secrets });
  assert.equal(expanded.capacity_bytes, 128 * MiB);
  assert.equal(expanded.node_expansion_required, true, 'the node confirms the new size (NodeExpandVolume)');
  // NodeExpandVolume returns once the mount shows the new size (the quota reaches it within the 2 s refresh).
  const nodeExpanded = await driver.node('NodeExpandVolume', { volume_id: id, volume_path: podA!, capacity_range: { required_bytes: 128 * MiB }, volume_capability: cap[0] });
  assert.equal(Number(nodeExpanded.capacity_bytes), 128 * MiB);
  assert.equal((await total()).total, 128 * MiB);
  assert.equal(await code(driver.node('NodeExpandVolume', { volume_id: id, volume_path: join(tmp, 'nowhere'), capacity_range: { required_bytes: 128 * MiB } })), status.NOT_FOUND);
  // A write past the quota fails in the pod.
  await assert.rejects(writeFile(join(podA!, 'big.bin'), Buffer.alloc(130 * MiB)), { errno: -122 }); // EDQUOT (node names it 'Unknown system error')
  await rm(join(podA!, 'big.bin'), { force: true });

  // Snapshot, change the volume, restore the snapshot into a new volume; clone the volume itself too.
  const snap = (await driver.controller('CreateSnapshot', { source_volume_id: id, name: 'snapshot-1', secrets })).snapshot;
  assert.equal(snap.snapshot_id, '/k8s/.snapshots/snapshot-1');
  assert.equal(snap.ready_to_use, true);
  assert.equal((await driver.controller('CreateSnapshot', { source_volume_id: id, name: 'snapshot-1', secrets })).snapshot.snapshot_id, snap.snapshot_id);
  // A snapshot is read-only for everyone but the driver (one owned mark on /k8s/.snapshots, not one per snapshot).
  const sm = await openMeta(vol.url);
  try {
    const snapDir = await sm.resolve(rootContext(), 1, snap.snapshot_id);
    await assert.rejects(sm.mkdir(rootContext(), snapDir.inode, 'new', 0o755), { code: 'EROFS' });
    await assert.rejects(sm.unlink(rootContext(), snapDir.inode, 'hello.txt'), { code: 'EROFS' });
    const base = await sm.resolve(rootContext(), 1, '/k8s/.snapshots');
    await assert.rejects(sm.mkdir(rootContext(), base.inode, 'forged', 0o755), { code: 'EROFS' });
    assert.deepEqual((await sm.load()).readOnly, [{ ino: base.inode, path: '/k8s/.snapshots', owner: 'csi-snapshots' }]);
  } finally {
    await sm.close();
  }
  // ListSnapshots: all, by id, by source volume, in pages.
  const snap2 = (await driver.controller('CreateSnapshot', { source_volume_id: id, name: 'snapshot-2', secrets })).snapshot;
  const ids = (r: any) => r.entries.map((e: any) => e.snapshot.snapshot_id).sort();
  assert.deepEqual(ids(await driver.controller('ListSnapshots', { secrets })), [snap.snapshot_id, snap2.snapshot_id]);
  assert.deepEqual(ids(await driver.controller('ListSnapshots', {})), [snap.snapshot_id, snap2.snapshot_id], 'without secrets: the volumes served so far');
  const one = await driver.controller('ListSnapshots', { snapshot_id: snap2.snapshot_id, secrets });
  assert.deepEqual(ids(one), [snap2.snapshot_id]);
  assert.equal(one.entries[0].snapshot.source_volume_id, id);
  assert.equal(one.entries[0].snapshot.ready_to_use, true);
  assert.deepEqual(ids(await driver.controller('ListSnapshots', { snapshot_id: '/k8s/.snapshots/none', secrets })), [], 'an unknown id: an empty list');
  assert.deepEqual(ids(await driver.controller('ListSnapshots', { source_volume_id: id, secrets })), [snap.snapshot_id, snap2.snapshot_id]);
  assert.deepEqual(ids(await driver.controller('ListSnapshots', { source_volume_id: '/k8s/other', secrets })), []);
  const p1 = await driver.controller('ListSnapshots', { max_entries: 1, secrets });
  assert.equal(p1.entries.length, 1);
  assert.ok(p1.next_token);
  const p2 = await driver.controller('ListSnapshots', { max_entries: 1, starting_token: p1.next_token, secrets });
  assert.equal(p2.entries.length, 1);
  assert.equal(p2.next_token, '');
  assert.deepEqual([...ids(p1), ...ids(p2)].sort(), [snap.snapshot_id, snap2.snapshot_id]);
  assert.equal(await code(driver.controller('ListSnapshots', { starting_token: 'nonsense', secrets })), status.ABORTED);
  await driver.controller('DeleteSnapshot', { snapshot_id: snap2.snapshot_id, secrets });
  assert.deepEqual(ids(await driver.controller('ListSnapshots', { secrets })), [snap.snapshot_id]);

  await writeFile(join(podA!, 'hello.txt'), 'changed after the snapshot\n');
  const restored = (await driver.controller('CreateVolume', { name: 'pvc-2222', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: cap, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } }, parameters: { basePath: '/k8s' }, secrets })).volume;
  assert.equal(restored.volume_id, '/k8s/pvc-2222');
  const cloned = (await driver.controller('CreateVolume', { name: 'pvc-3333', volume_capabilities: cap, volume_content_source: { volume: { volume_id: id } }, parameters: { basePath: '/k8s' }, secrets })).volume;
  const staging2 = join(tmp, 'plugins/staging/pv-2222/globalmount');
  const podC = join(tmp, 'pods/pod-c/volumes/mount');
  await driver.node('NodeStageVolume', { volume_id: restored.volume_id, staging_target_path: staging2, volume_capability: cap[0], secrets, volume_context: restored.volume_context });
  await driver.node('NodePublishVolume', { volume_id: restored.volume_id, staging_target_path: staging2, target_path: podC, volume_capability: cap[0], volume_context: restored.volume_context });
  assert.equal(await readFile(join(podC, 'hello.txt'), 'utf8'), 'written in pod a\n');
  await writeFile(join(podC, 'hello.txt'), 'restored copy changed\n');
  assert.equal(await readFile(join(podA!, 'hello.txt'), 'utf8'), 'changed after the snapshot\n', 'the copy shares no writes');
  assert.equal((await openMetaLoad()).readOnly?.length, 1, 'a second snapshot adds no mark');
  const meta = await openMeta(vol.url);
  try {
    const c = await meta.resolve(rootContext(), 1, `${cloned.volume_id}/hello.txt`);
    assert.equal(c.attr.length, 'changed after the snapshot\n'.length);
  } finally {
    await meta.close();
  }

  // The mount process killed (the whole tree, -9) between two pod writes: the driver mounts again and re-binds.
  process.kill(-pid, 'SIGKILL');
  const killedAt = Date.now();
  const seen = new Set<string>();
  await until(
    'a write in pod a after the kill',
    async () => {
      try {
        await writeFile(join(podA!, 'second.txt'), 'after the kill\n');
        return true;
      } catch (e) {
        seen.add((e as NodeJS.ErrnoException).code ?? String(e));
        throw e;
      }
    },
    30_000,
  );
  const gapMs = Date.now() - killedAt;
  // The driver re-binds the targets together, pod b may follow pod a by a moment.
  assert.equal(await until('pod b re-bound', () => readFile(join(podB!, 'second.txt'), 'utf8')).catch((e: Error) => { throw new Error(`${e.message}; driver: ${driver.output()}`); }), 'after the kill\n');
  assert.equal(await readFile(join(podB!, 'hello.txt'), 'utf8'), 'changed after the snapshot\n', 'the first write survived');
  await until('pod r re-bound', () => readFile(join(podR!, 'second.txt'), 'utf8'));
  await assert.rejects(writeFile(join(podR!, 'no.txt'), 'x'), { code: 'EROFS' }, 'the read-only bind stays read-only');
  assert.match(driver.output(), /is gone; mounting it again/);
  t.diagnostic(`kill -9 of the mount: pod writes failed with ${[...seen].join(', ') || 'nothing'} for ${gapMs} ms`);

  // Unstage while pods still use it is refused; after the last unpublish it stops the mount process.
  assert.equal(await code(driver.node('NodeUnstageVolume', { volume_id: id, staging_target_path: staging })), status.FAILED_PRECONDITION);
  for (const t of [podA, podB, podR]) await driver.node('NodeUnpublishVolume', { volume_id: id, target_path: t! });
  await driver.node('NodeUnpublishVolume', { volume_id: id, target_path: podA! }); // again: fine
  await driver.node('NodeUnstageVolume', { volume_id: id, staging_target_path: staging });
  await driver.node('NodeUnpublishVolume', { volume_id: restored.volume_id, target_path: podC });
  await driver.node('NodeUnstageVolume', { volume_id: restored.volume_id, staging_target_path: staging2 });
  assert.deepEqual(await fuseMountsUnder(tmp), []);
  const newPid = JSON.parse(await readFile(join(tmp, 'state/state.json'), 'utf8'));
  assert.deepEqual(newPid, []);

  // Delete: through the trash (onDelete: delete), idempotent; the snapshot too.
  await driver.controller('DeleteSnapshot', { snapshot_id: snap.snapshot_id, secrets });
  await driver.controller('DeleteVolume', { volume_id: id, secrets });
  await driver.controller('DeleteVolume', { volume_id: id, secrets });
  const m2 = await openMeta(vol.url);
  try {
    await assert.rejects(m2.resolve(rootContext(), 1, id), { code: 'ENOENT' });
    await assert.rejects(m2.resolve(rootContext(), 1, snap.snapshot_id), { code: 'ENOENT' });
    const trash = await m2.trashList();
    assert.ok(trash.some((t) => t.path?.endsWith('/k8s/pvc-1111/second.txt')), `in the trash: ${trash.map((t) => t.path).join(', ')}`);
    assert.ok(!trash.some((t) => t.path?.includes('.ferry-csi')), 'the driver\'s own index never goes to the trash');
  } finally {
    await m2.close();
  }
  assert.ok(!(await driver.controller('ListVolumes', {})).entries.some((e: any) => e.volume.volume_id === id));
});

test('onDelete retain and archive; pathPattern from the claim', opts, async () => {
  const cap = [mountCap()];
  const mk = (name: string, onDelete: string) =>
    driver.controller('CreateVolume', {
      name,
      volume_capabilities: cap,
      capacity_range: { required_bytes: MiB },
      parameters: { basePath: '/k8s-keep', onDelete, pathPattern: '${pvc.namespace}/${pvc.name}', 'csi.storage.k8s.io/pvc/name': name, 'csi.storage.k8s.io/pvc/namespace': 'team-a' },
      secrets,
    });
  const kept = (await mk('kept', 'retain')).volume;
  const archived = (await mk('old', 'archive')).volume;
  assert.equal(kept.volume_id, '/k8s-keep/team-a/kept');
  await driver.controller('DeleteVolume', { volume_id: kept.volume_id, secrets });
  await driver.controller('DeleteVolume', { volume_id: archived.volume_id, secrets });
  const m = await openMeta(vol.url);
  try {
    await m.resolve(rootContext(), 1, kept.volume_id); // still there
    await assert.rejects(m.resolve(rootContext(), 1, archived.volume_id), { code: 'ENOENT' });
    const dir = await m.resolve(rootContext(), 1, '/k8s-keep/team-a/.archived');
    const names = (await m.readdir(rootContext(), dir.inode)).map((e) => e.name);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^old-\d{4}-/);
  } finally {
    await m.close();
  }
  // ListVolumes in pages of one: every volume once, then no token; a token it never gave is ABORTED.
  // Deleted volumes are not listed, whatever onDelete kept of their directories.
  for (const n of ['list-a', 'list-b']) await mk(n, 'delete');
  const seen: string[] = [];
  for (let token = '', n = 0; n < 20; n++) {
    const page = await driver.controller('ListVolumes', { max_entries: 1, starting_token: token });
    assert.ok(page.entries.length <= 1);
    seen.push(...page.entries.map((e: any) => e.volume.volume_id));
    if (!page.next_token) break;
    token = page.next_token;
  }
  const all = (await driver.controller('ListVolumes', {})).entries.map((e: any) => e.volume.volume_id);
  assert.deepEqual(seen, all);
  assert.ok(all.includes('/k8s-keep/team-a/list-a') && all.includes('/k8s-keep/team-a/list-b'), all.join(' '));
  assert.ok(!all.includes(kept.volume_id) && !all.includes(archived.volume_id));
  assert.equal(await code(driver.controller('ListVolumes', { starting_token: 'bogus' })), status.ABORTED);
  // The claim's labels, read from the API server (only when the pattern names them).
  const labelled = await driver.controller('CreateVolume', {
    name: 'pvc-labelled',
    volume_capabilities: cap,
    parameters: { basePath: '/k8s-keep', pathPattern: '${pvc.labels.team}/${pvc.name}', 'csi.storage.k8s.io/pvc/name': 'ferryfs-data', 'csi.storage.k8s.io/pvc/namespace': 'default' },
    secrets,
  });
  assert.equal(labelled.volume.volume_id, '/k8s-keep/vision/ferryfs-data');
  assert.ok(kube.requests.includes('/api/v1/namespaces/default/persistentvolumeclaims/ferryfs-data'), kube.requests.join(' '));
  const unknown = driver.controller('CreateVolume', {
    name: 'pvc-unknown',
    volume_capabilities: cap,
    parameters: { pathPattern: '${pvc.labels.team}/${pvc.name}', 'csi.storage.k8s.io/pvc/name': 'no-such-claim', 'csi.storage.k8s.io/pvc/namespace': 'default' },
    secrets,
  });
  assert.equal(await code(unknown), status.FAILED_PRECONDITION);
  // A pattern naming what the provisioner did not pass is INVALID_ARGUMENT.
  const bad = driver.controller('CreateVolume', { name: 'x', volume_capabilities: cap, parameters: { pathPattern: '${pvc.name}' }, secrets });
  assert.equal(await code(bad), status.INVALID_ARGUMENT);
});

test('a restarted driver takes over its mounts (and still notices one that dies)', opts, async () => {
  const cap = mountCap();
  const v = (await driver.controller('CreateVolume', { name: 'pvc-takeover', volume_capabilities: [cap], capacity_range: { required_bytes: 8 * MiB }, parameters: { basePath: '/k8s' }, secrets })).volume;
  const staging = join(tmp, 'plugins/staging/takeover/globalmount');
  const pod = join(tmp, 'pods/pod-t/volumes/mount');
  await driver.node('NodeStageVolume', { volume_id: v.volume_id, staging_target_path: staging, volume_capability: cap, secrets, volume_context: v.volume_context });
  await driver.node('NodePublishVolume', { volume_id: v.volume_id, staging_target_path: staging, target_path: pod, volume_capability: cap, volume_context: v.volume_context });
  await writeFile(join(pod, 'a.txt'), 'before the restart\n');
  // The driver process goes (an upgrade of the plugin): the pod's mount stays.
  await driver.stop();
  assert.equal(await readFile(join(pod, 'a.txt'), 'utf8'), 'before the restart\n');
  driver = await startDriver(join(tmp, 'csi.sock'), join(tmp, 'state'), ['--node-id', 'node-1', '--mode', 'all']);
  // The new process is not the mount's parent: it still notices the mount dying and mounts it again.
  const pid = (JSON.parse(await readFile(join(tmp, 'state/state.json'), 'utf8')) as Array<{ volumeId: string; pid: number }>).find((s) => s.volumeId === v.volume_id)!.pid;
  process.kill(-pid, 'SIGKILL');
  await until('the pod to read again', () => readFile(join(pod, 'a.txt'), 'utf8'), 30_000);
  await driver.node('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: pod });
  await driver.node('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: staging });
  assert.deepEqual(await fuseMountsUnder(tmp), []);
  await driver.controller('DeleteVolume', { volume_id: v.volume_id, secrets });
});
