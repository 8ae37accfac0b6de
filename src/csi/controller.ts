// The CSI Controller service: dynamic provisioning onto directories of a FerryFS volume (volumes.ts does
// the work), requests checked as the spec asks and answered with its status codes.
import { posix } from 'node:path';
import { status } from '@grpc/grpc-js';
import { requireCapabilities, unsupported, type VolumeCapability } from './capabilities.js';
import type { ClientCache } from './clients.js';
import { claimLabels } from './kube.js';
import { expandPattern, needsLabels, parseParams } from './params.js';
import type { Secrets } from './secrets.js';
import { CsiError, invalid, notFound } from './status.js';
import { VolumeOps, type SnapshotRecord, type VolumeRecord } from './volumes.js';

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CONTROLLER_RPCS = ['CREATE_DELETE_VOLUME', 'LIST_VOLUMES', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS', 'CLONE_VOLUME', 'EXPAND_VOLUME'];

function required(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(`${field} missing`);
  return v;
}

/** The capacity a CapacityRange asks (0: unspecified, no quota); OUT_OF_RANGE when it cannot be met. */
export function capacityOf(range: { required_bytes?: number; limit_bytes?: number } | null | undefined): number {
  const req = Number(range?.required_bytes ?? 0);
  const limit = Number(range?.limit_bytes ?? 0);
  if (req < 0 || limit < 0) throw new CsiError(status.OUT_OF_RANGE, 'capacity must not be negative');
  if (limit > 0 && req > limit) throw new CsiError(status.OUT_OF_RANGE, `required_bytes ${req} is more than limit_bytes ${limit}`);
  return req || limit;
}

/** What the node gets with each volume (never secrets): its directory and the mount settings. */
function contextOf(path: string, p: { mountOptions?: string; cacheGroup?: string }): Record<string, string> {
  return { subdir: path, ...(p.mountOptions ? { mountOptions: p.mountOptions } : {}), ...(p.cacheGroup ? { cacheGroup: p.cacheGroup } : {}) };
}

function snapshotOf(s: SnapshotRecord & { id: string }) {
  return {
    size_bytes: s.bytes,
    snapshot_id: s.id,
    source_volume_id: s.source,
    creation_time: { seconds: Math.floor(s.created / 1000), nanos: (s.created % 1000) * 1e6 },
    ready_to_use: true,
  };
}

const isPath = (id: string) => id.startsWith('/') && !id.split('/').includes('..');

export function controllerService(clients: ClientCache) {
  const ops = async (secrets: Secrets | undefined) => new VolumeOps(await clients.get(secrets));
  // Calls naming one volume or snapshot run one at a time (a sidecar's retry while a clone is still being
  // built would otherwise start a second one).
  const locks = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const next = (locks.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    locks.set(key, next);
    void next.catch(() => undefined).finally(() => locks.get(key) === next && locks.delete(key));
    return next;
  };

  return {
    async ControllerGetCapabilities() {
      return { capabilities: CONTROLLER_RPCS.map((type) => ({ rpc: { type } })) };
    },

    async CreateVolume(r: Req) {
      const name = required(r.name, 'name');
      requireCapabilities(r.volume_capabilities, 'CreateVolume');
      const params = parseParams(r.parameters);
      const capacity = capacityOf(r.capacity_range);
      const md = r.parameters ?? {};
      const claim = {
        pvName: md['csi.storage.k8s.io/pv/name'] || name,
        pvcName: md['csi.storage.k8s.io/pvc/name'],
        pvcNamespace: md['csi.storage.k8s.io/pvc/namespace'],
      };
      const labels = needsLabels(params.pathPattern) && claim.pvcName && claim.pvcNamespace ? await claimLabels(claim.pvcNamespace, claim.pvcName) : undefined;
      const path = posix.join(params.basePath, expandPattern(params.pathPattern, { ...claim, labels }));
      const src = r.volume_content_source;
      const source = src?.snapshot
        ? { kind: 'snapshot' as const, path: required(src.snapshot.snapshot_id, 'volume_content_source.snapshot.snapshot_id') }
        : src?.volume
          ? { kind: 'volume' as const, path: required(src.volume.volume_id, 'volume_content_source.volume.volume_id') }
          : undefined;
      if (source && !isPath(source.path)) throw notFound(`no ${source.kind} ${source.path}`);
      const rec: VolumeRecord = { kind: 'volume', name, capacity, onDelete: params.onDelete, ...(source ? { source: `${source.kind}:${source.path}` } : {}) };
      const made = await serial(path, async () => (await ops(r.secrets)).create(path, rec, params.inodes, source));
      return {
        volume: {
          capacity_bytes: made.capacity,
          volume_id: path,
          volume_context: contextOf(path, params),
          ...(src ? { content_source: src } : {}),
        },
      };
    },

    async DeleteVolume(r: Req) {
      const id = required(r.volume_id, 'volume_id');
      if (isPath(id)) await serial(id, async () => (await ops(r.secrets)).delete(id)); // another id was never ours
      return {};
    },

    async ControllerExpandVolume(r: Req) {
      const id = required(r.volume_id, 'volume_id');
      if (!r.capacity_range) throw invalid('capacity_range missing');
      if (!isPath(id)) throw notFound(`no volume ${id}`);
      const capacity = capacityOf(r.capacity_range);
      const now = await serial(id, async () => (await ops(r.secrets)).expand(id, capacity));
      // The node's NodeExpandVolume confirms the mount shows the new size (node.ts), so the kubelet calls it.
      return { capacity_bytes: now, node_expansion_required: true };
    },

    async ValidateVolumeCapabilities(r: Req) {
      const id = required(r.volume_id, 'volume_id');
      if (!r.volume_capabilities?.length) throw invalid('volume_capabilities missing');
      if (!isPath(id) || !(await (await ops(r.secrets)).volume(id))) throw notFound(`no volume ${id}`);
      const bad = (r.volume_capabilities as VolumeCapability[]).map(unsupported).find((w) => w);
      if (bad) return { message: bad };
      return { confirmed: { volume_context: r.volume_context ?? {}, volume_capabilities: r.volume_capabilities, parameters: r.parameters ?? {} } };
    },

    async ListVolumes(r: Req) {
      // ListVolumes carries no secrets: it lists the volumes of the metadata URLs this controller has
      // served (and of FERRY_META_URL), one after another; the token is "N:ID" (the N-th of them).
      if (process.env.FERRY_META_URL) await clients.get(undefined);
      const all = await clients.all();
      const token = String(r.starting_token ?? '');
      const m = /^(\d+):(.*)$/s.exec(token);
      if (token && (!m || Number(m[1]) >= all.length)) throw new CsiError(status.ABORTED, `starting_token '${token}' is not one this controller gave`);
      let k = m ? Number(m[1]) : 0;
      let start = m ? m[2]! : '';
      const max = Number(r.max_entries ?? 0);
      if (max < 0) throw invalid('max_entries must not be negative');
      const entries: object[] = [];
      for (; k < all.length; k++, start = '') {
        const o = new VolumeOps(all[k]!);
        const room = max > 0 ? max - entries.length : 0;
        const page = await o.list(start, room);
        for (const id of page.ids) {
          const rec = await o.volume(id);
          if (rec) entries.push({ volume: { volume_id: id, capacity_bytes: rec.capacity, volume_context: contextOf(id, {}) } });
        }
        if (page.next) return { entries, next_token: `${k}:${page.next}` };
        if (max > 0 && entries.length >= max) return { entries, next_token: k + 1 < all.length ? `${k + 1}:` : '' };
      }
      return { entries, next_token: '' };
    },

    async ListSnapshots(r: Req) {
      // With secrets (the snapshotter passes them when the class names some): that volume; without, the
      // volumes this controller has served, one after another as ListVolumes does ("N:ID" tokens).
      const all = r.secrets && Object.keys(r.secrets).length ? [await clients.get(r.secrets)] : (process.env.FERRY_META_URL && (await clients.get(undefined)), await clients.all());
      const token = String(r.starting_token ?? '');
      const m = /^(\d+):(.*)$/s.exec(token);
      if (token && (!m || Number(m[1]) >= all.length)) throw new CsiError(status.ABORTED, `starting_token '${token}' is not one this controller gave`);
      const max = Number(r.max_entries ?? 0);
      if (max < 0) throw invalid('max_entries must not be negative');
      const entry = (s: SnapshotRecord & { id: string }) => ({ snapshot: snapshotOf(s) });
      const wanted = String(r.snapshot_id ?? '');
      const source = String(r.source_volume_id ?? '');
      if (wanted) {
        // One snapshot by id (no paging); one unknown, or of another source, is an empty list, not an error.
        if (!isPath(wanted)) return { entries: [], next_token: '' };
        for (const c of all) {
          const rec = await new VolumeOps(c).snapshotRecord(wanted);
          if (rec && (!source || rec.source === source)) return { entries: [entry({ ...rec, id: wanted })], next_token: '' };
        }
        return { entries: [], next_token: '' };
      }
      const entries: object[] = [];
      let start = m ? m[2]! : '';
      for (let k = m ? Number(m[1]) : 0; k < all.length; k++, start = '') {
        const page = await new VolumeOps(all[k]!).listSnapshots(start, max > 0 ? max - entries.length : 0, source || undefined);
        entries.push(...page.snapshots.map(entry));
        if (page.next) return { entries, next_token: `${k}:${page.next}` };
        if (max > 0 && entries.length >= max) return { entries, next_token: k + 1 < all.length ? `${k + 1}:` : '' };
      }
      return { entries, next_token: '' };
    },

    async CreateSnapshot(r: Req) {
      const source = required(r.source_volume_id, 'source_volume_id');
      const name = required(r.name, 'name');
      if (!isPath(source)) throw notFound(`no volume ${source}`);
      const s = await serial(`snapshot:${name}`, async () => (await ops(r.secrets)).snapshot(source, name));
      return { snapshot: snapshotOf(s) };
    },

    async DeleteSnapshot(r: Req) {
      const id = required(r.snapshot_id, 'snapshot_id');
      if (isPath(id)) await serial(`snapshot:${id.split('/').pop()}`, async () => (await ops(r.secrets)).deleteSnapshot(id));
      return {};
    },
  };
}
