// `ferry dashboard --kubeconfig FILE`: the PersistentVolumes of the FerryFS CSI driver, their claims, the pods
// using each claim and the mount processes (sessions) serving those pods, read from the API server
// (kube-api.ts): three list calls per refresh, all namespaces; the account needs list on pods, PVCs and PVs.
import { createHash } from 'node:crypto';
import type { SessionView, Tip, VolumeView } from './data.js';
import { kubeGet, loadKubeconfig } from '../client/kube-api.js';

export const CSI_DRIVER = 'csi.ferryfs.io';

/** The parts of the API objects the dashboard reads (the API's JSON, camelCase). */
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
}
interface Pv {
  metadata?: Meta;
  spec?: { capacity?: Record<string, unknown>; claimRef?: { name?: string; namespace?: string }; csi?: { driver: string; volumeHandle: string; volumeAttributes?: Record<string, string> } };
  status?: { phase?: string };
}
interface Pvc {
  metadata?: Meta;
  spec?: { storageClassName?: string; volumeName?: string };
  status?: { phase?: string; capacity?: Record<string, unknown> };
}
interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
  lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: unknown } };
}
interface Pod {
  metadata?: Meta;
  spec?: { nodeName?: string; volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> };
  status?: { phase?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}

export interface Cluster {
  pvs: Pv[];
  pvcs: Pvc[];
  pods: Pod[];
  readAt: number;
  error?: string;
}

export interface PodView {
  namespace: string;
  name: string;
  node?: string;
  phase?: string;
  containers: Array<{ name: string; ready: boolean; restarts: number; state: string }>;
  /** Sessions of this volume serving the pod: CSI or sidecar mounts whose label names the pod or the PV. */
  mounts: Array<Pick<SessionView, 'sid' | 'host' | 'role' | 'label' | 'stale' | 'heartbeatAgeMs' | 'version'>>;
}

export interface PvView {
  pv: string;
  handle: string;
  attributes: Record<string, string>;
  capacity?: string;
  phase?: string;
  claim?: { namespace: string; name: string; phase?: string; storageClass?: string };
  pods: PodView[];
  tips: Tip[];
}

/** Lists what the dashboard needs, once; an unreachable API server is an error in the result, not a throw. */
export async function readCluster(kubeconfig: string): Promise<Cluster> {
  const readAt = Date.now();
  try {
    const t = loadKubeconfig(kubeconfig);
    const list = async <T>(path: string) => ((await kubeGet<{ items?: T[] }>(t, path)).items ?? []);
    const [pvs, pvcs, pods] = await Promise.all([list<Pv>('/api/v1/persistentvolumes'), list<Pvc>('/api/v1/persistentvolumeclaims'), list<Pod>('/api/v1/pods')]);
    return { pvs: pvs.filter((p) => p.spec?.csi?.driver === CSI_DRIVER), pvcs, pods, readAt };
  } catch (e) {
    return { pvs: [], pvcs: [], pods: [], readAt, error: `cannot read the Kubernetes API (${kubeconfig}): ${oneLine(e)}` };
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
}

/**
 * A session serves a pod when it says so (podUids), when its label (mount point) holds the pod's uid (the
 * kubelet target path), or when it runs on the pod's node for the pod's PV: recorded (pv, volumeHandle) or in
 * its label, as a name or as the kubelet's staging path of the volume (.../csi/DRIVER/SHA256(handle)/globalmount,
 * where the CSI node plugin mounts each volume once per node).
 */
function serves(s: SessionView, pod: Pod, pv: Pv): boolean {
  const uid = pod.metadata?.uid;
  if (uid && (s.podUids?.includes(uid) || s.label.includes(uid))) return true;
  if (!pod.spec?.nodeName || s.host !== pod.spec.nodeName) return false;
  const name = pv.metadata?.name ?? '';
  const handle = pv.spec?.csi?.volumeHandle;
  if (name && (s.pv === name || s.label.includes(`/${name}/`) || s.label.endsWith(`/${name}`))) return true;
  return !!handle && (s.volumeHandle === handle || s.label.includes(`/${CSI_DRIVER}/${createHash('sha256').update(handle).digest('hex')}/`));
}

/** The FerryFS PVs of `volume` (by its name or uuid in the PV's attributes, or sessions serving its pods). */
export function pvsOf(cluster: Cluster, volume: VolumeView): PvView[] {
  return cluster.pvs.map((pv) => pvView(cluster, pv, volume.sessions)).filter((v) => {
    const a = v.attributes;
    return a.volume === volume.name || a.uuid === volume.uuid || a.volumeName === volume.name || v.pods.some((p) => p.mounts.length > 0);
  });
}

/** The FerryFS PVs that belong to none of the volumes shown. */
export function otherPvs(cluster: Cluster, volumes: VolumeView[]): PvView[] {
  const mine = new Set(volumes.flatMap((v) => pvsOf(cluster, v).map((p) => p.pv)));
  return cluster.pvs.filter((p) => !mine.has(p.metadata?.name ?? '')).map((p) => pvView(cluster, p, []));
}

function pvView(cluster: Cluster, pv: Pv, sessions: SessionView[]): PvView {
  const name = pv.metadata?.name ?? '?';
  const ref = pv.spec?.claimRef;
  const claim = ref ? cluster.pvcs.find((c) => c.metadata?.name === ref.name && c.metadata?.namespace === ref.namespace) : undefined;
  const users = ref ? cluster.pods.filter((p) => p.metadata?.namespace === ref.namespace && p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === ref.name)) : [];
  const pods: PodView[] = users.map((p) => ({
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    node: p.spec?.nodeName,
    phase: p.status?.phase,
    containers: [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map((c) => ({
      name: c.name,
      ready: !!c.ready,
      restarts: c.restartCount ?? 0,
      state: c.state?.waiting ? `waiting: ${c.state.waiting.reason ?? ''}` : c.state?.terminated ? `terminated: ${c.state.terminated.reason ?? c.state.terminated.exitCode}` : 'running',
    })),
    mounts: sessions.filter((s) => serves(s, p, pv)).map((s) => ({ sid: s.sid, host: s.host, role: s.role, label: s.label, stale: s.stale, heartbeatAgeMs: s.heartbeatAgeMs, version: s.version })),
  }));
  return {
    pv: name,
    handle: pv.spec?.csi?.volumeHandle ?? '',
    attributes: pv.spec?.csi?.volumeAttributes ?? {},
    capacity: pv.spec?.capacity?.storage === undefined ? undefined : String(pv.spec.capacity.storage),
    phase: pv.status?.phase,
    claim: ref ? { namespace: ref.namespace ?? '', name: ref.name ?? '', phase: claim?.status?.phase, storageClass: claim?.spec?.storageClassName } : undefined,
    pods,
    tips: kubeTips(cluster, name, users),
  };
}

/** A FerryFS mount container is the webhook's sidecar or the CSI node plugin: the ferry image, or named so. */
const isMountContainer = (c: ContainerStatus) => /(^|\/)ferry[^/]*:/.test(c.image ?? '') || /ferry/.test(c.name);

/** Mount processes restarting: the pod's mount sidecar, or the CSI node plugin on the pod's node. */
function kubeTips(cluster: Cluster, pv: string, users: Pod[]): Tip[] {
  const tips: Tip[] = [];
  const seen = new Set<string>();
  const plugins = (node?: string) =>
    cluster.pods.filter((p) => p.spec?.nodeName === node && p.metadata?.labels?.['app.kubernetes.io/name'] === 'ferryfs-csi' && p.metadata?.labels?.['app.kubernetes.io/component'] === 'node');
  for (const pod of users) {
    for (const p of [pod, ...plugins(pod.spec?.nodeName)]) {
      for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
        const key = `${p.metadata?.namespace}/${p.metadata?.name}/${c.name}`;
        if (seen.has(key) || !isMountContainer(c)) continue;
        const looping = c.state?.waiting?.reason === 'CrashLoopBackOff';
        if (!looping && (c.restartCount ?? 0) < 1) continue;
        seen.add(key);
        const last = c.lastState?.terminated;
        tips.push({
          problem: 'mount-restarting',
          severity: looping ? 'error' : 'warning',
          message: `the mount process ${c.name} of pod ${p.metadata?.namespace}/${p.metadata?.name} (node ${p.spec?.nodeName ?? '?'}) restarted ${c.restartCount ?? 0} time(s)${looping ? ' and is in CrashLoopBackOff' : ''}${last ? ` (last exit: ${last.reason ?? ''} ${last.exitCode ?? ''})` : ''}; PV ${pv}`,
          tip: `read why it exits: 'kubectl logs -n ${p.metadata?.namespace} ${p.metadata?.name} -c ${c.name} --previous'; an unreachable metadata engine or refused object store credentials show there first`,
        });
      }
    }
  }
  return tips;
}
