// A busy volume for the dashboard tests and benchmark: real files, directory quotas (one nearly full), trash
// entries, and the sessions of the processes a deployment runs (mounts, a gateway, cache-group members with
// their reports, a replicator, CSI mounts), some with background errors, one mount that died and was
// restarted, and registered mirrors (one needing a resync, one whose replicator stopped).
import { createHash } from 'node:crypto';
import type { Engine } from '../../src/meta/tx.js';
import type { Meta } from '../../src/meta/interface.js';
import { openMeta } from '../../src/meta/index.js';
import { rootContext } from '../../src/meta/types.js';
import { withMirrors } from '../../src/mirror/format.js';
import { metaOf, tempVolume, type TempVolume } from './volume.js';

export interface BusyVolume {
  t: TempVolume;
  /** Session ids by what they stand for. */
  sids: Record<string, number>;
  close(): Promise<void>;
}

/** What a pod's kubelet target path looks like: the CSI mount's session label. */
export const POD_UID = '6f1c2e4a-91b0-4c1e-8f57-2d0a3b7c9e11';
export const PV_NAME = 'pvc-3b9f0c2e-7d41-4a8e-b0a5-8c1e2f3d4a5b';
export const NODE = 'kind-worker';

/** Ages a session's heartbeat, as if its process had died `ms` ago (the engine's own primitive). */
export async function ageSession(meta: Meta, sid: number, ms: number): Promise<void> {
  await (meta as unknown as { eng: Engine }).eng.txn((tx) => tx.updateSession(sid, Date.now() - ms));
}

export async function busyVolume(opts: { extraSessions?: number; extraQuotas?: number } = {}): Promise<BusyVolume> {
  const t = await tempVolume({ format: { trashDays: 1, capacity: 64 << 20 } });
  const v = t.v;
  const ctx = rootContext();
  const meta = metaOf(v);
  await v.mkdir('/team-a');
  await v.mkdir('/team-b');
  await v.mkdir('/scratch');
  await meta.quotaSet(ctx, '/team-a', { capacity: 100 << 10 });
  await meta.quotaSet(ctx, '/team-b', { capacity: 10 << 20, inodes: 1000 });
  await v.writeFile('/team-a/model.bin', Buffer.alloc(96 << 10, 7));
  await v.writeFile('/team-b/notes.txt', 'hello');
  for (let i = 0; i < 3; i++) await v.writeFile(`/scratch/tmp-${i}.log`, Buffer.alloc(4096, i));
  for (let i = 0; i < 3; i++) await v.unlink(`/scratch/tmp-${i}.log`);
  for (let i = 0; i < (opts.extraQuotas ?? 0); i++) {
    await v.mkdir(`/q${i}`);
    await meta.quotaSet(ctx, `/q${i}`, { capacity: 1 << 30 });
  }

  const metas: Meta[] = [];
  const sids: Record<string, number> = {};
  const session = async (key: string, info: Record<string, unknown>, report?: Record<string, unknown>) => {
    const m = await openMeta(t.url);
    metas.push(m);
    sids[key] = await m.newSession(info);
    if (report) await m.setSessionInfo(report);
    return m;
  };
  await session('mount', { role: 'mount', hostname: 'web-1', pid: 4242, mountPoint: 'web-1:/mnt/ferry', writeback: true }, { openFiles: 12, writebackPending: 7 });
  // A mount that crashed 20 minutes ago, restarted at the same place.
  const dead = await session('deadMount', { role: 'mount', hostname: 'web-2', pid: 1111, mountPoint: 'web-2:/mnt/ferry' }, { openFiles: 3 });
  await ageSession(dead, sids.deadMount!, 20 * 60_000);
  await session('restartedMount', { role: 'mount', hostname: 'web-2', pid: 1212, mountPoint: 'web-2:/mnt/ferry' }, { openFiles: 0, writebackPending: 0 });
  await session('gateway', { role: 'gateway', hostname: 'gw-1', pid: 300, mountPoint: 's3-gateway' }, {
    openFiles: 1,
    lastError: { job: 'gc', message: 'InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records. (403)', at: Date.now() - 90_000 },
  });
  await session('member1', { role: 'cache-member', hostname: 'cache-1', pid: 500, mountPoint: 'ferry cache serve g1', cacheGroup: 'g1', groupAddress: '10.0.0.5:9001', zone: 'zone-a' }, { servedRequests: 1200, servedBytes: 300 << 20, cacheHits: 950, cacheMisses: 50 });
  await session('member2', { role: 'cache-member', hostname: 'cache-2', pid: 501, mountPoint: 'ferry cache serve g1', cacheGroup: 'g1', groupAddress: '10.0.0.6:9001', zone: 'zone-b' }, { servedRequests: 40, servedBytes: 10 << 20, cacheHits: 10, cacheMisses: 30 });
  await session('replicator', { role: 'replicator', hostname: 'dr-1', pid: 600, mountPoint: 'mirror replicator m1' }, {
    lastError: { job: 'heartbeat', message: 'connect ECONNREFUSED 10.1.0.9:5432', at: Date.now() - 600_000, clearedAt: Date.now() - 540_000 },
  });
  await session('csiMount', { role: 'csi-mount', hostname: NODE, pid: 77, mountPoint: `/var/lib/kubelet/pods/${POD_UID}/volumes/kubernetes.io~csi/${PV_NAME}/mount` }, { openFiles: 2, writebackPending: 0 });
  // The node plugin's mount of the PV at kubelet's staging path (SHA-256 of the volume handle), and the same
  // volume mounted on another node, which serves none of this node's pods.
  const staging = `/var/lib/kubelet/plugins/kubernetes.io/csi/csi.ferryfs.io/${createHash('sha256').update(`vol:${PV_NAME}`).digest('hex')}/globalmount`;
  await session('csiStaging', { role: 'mount', hostname: NODE, pid: 78, mountPoint: `${NODE}:${staging}` }, { openFiles: 0, writebackPending: 0 });
  await session('csiOtherNode', { role: 'mount', hostname: 'kind-worker3', pid: 79, mountPoint: `kind-worker3:${staging}` }, { volumeHandle: `vol:${PV_NAME}`, openFiles: 0 });
  for (let i = 0; i < (opts.extraSessions ?? 0); i++) {
    await session(`extra${i}`, { role: 'mount', hostname: `node-${i}`, pid: 1000 + i, mountPoint: `node-${i}:/mnt/ferry` }, { openFiles: i % 7, writebackPending: i % 3 });
  }
  // Two registered mirrors: one fell out of the retention window, one stopped applying 30 minutes ago.
  await meta.updateFormat((f) =>
    withMirrors(f, {
      m1: { url: 'postgres://ferry:s3cret@dr.example.com/ferry', createdAt: new Date().toISOString(), applied: 0, appliedAt: Date.now() - 3600_000, needsResync: { since: new Date().toISOString(), reason: 'the changelog it needs was trimmed' } },
      m2: { url: 'redis://10.2.0.4:6379/3', createdAt: new Date().toISOString(), applied: 1, appliedAt: Date.now() - 30 * 60_000 },
    }),
  );
  return {
    t,
    sids,
    async close() {
      for (const m of metas) await m.close().catch(() => undefined);
      await t.cleanup();
    },
  };
}
