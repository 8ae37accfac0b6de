// StorageClass parameters of the driver (CreateVolume's `parameters`), checked once into a typed record.
// Keys under csi.storage.k8s.io/ are the external-provisioner's (PVC and PV names with
// --extra-create-metadata, secret references) and are not ours.
import { posix } from 'node:path';
import { invalid } from './status.js';

export type OnDelete = 'delete' | 'retain' | 'archive';

export interface VolumeParams {
  /** Directory of the FerryFS volume the claims' directories are made in (default /k8s). */
  basePath: string;
  /** The directory name below basePath: `${pv.name}` by default. */
  pathPattern: string;
  onDelete: OnDelete;
  /** Inode limit of each claim's directory quota (0: none). */
  inodes: number;
  /** Handed to the node as the volume context: `ferry mount -o` options and the cache group name. */
  mountOptions?: string;
  cacheGroup?: string;
}

const KNOWN = new Set(['basePath', 'pathPattern', 'onDelete', 'inodes', 'mountOptions', 'cacheGroup']);

export function parseParams(raw: Record<string, string> | undefined): VolumeParams {
  const p = raw ?? {};
  for (const k of Object.keys(p)) {
    if (!KNOWN.has(k) && !k.startsWith('csi.storage.k8s.io/')) throw invalid(`unknown StorageClass parameter '${k}' (known: ${[...KNOWN].join(', ')})`);
  }
  const basePath = posix.normalize('/' + (p.basePath ?? '/k8s'));
  const onDelete = (p.onDelete ?? 'delete') as OnDelete;
  if (!['delete', 'retain', 'archive'].includes(onDelete)) throw invalid(`onDelete must be delete, retain or archive, not '${p.onDelete}'`);
  const inodes = p.inodes === undefined ? 0 : Number(p.inodes);
  if (!Number.isSafeInteger(inodes) || inodes < 0) throw invalid(`inodes must be a whole number, not '${p.inodes}'`);
  return {
    basePath,
    pathPattern: p.pathPattern ?? '${pv.name}',
    onDelete,
    inodes,
    ...(p.mountOptions ? { mountOptions: p.mountOptions } : {}),
    ...(p.cacheGroup ? { cacheGroup: p.cacheGroup } : {}),
  };
}

/** What a pathPattern may name: the PV name, and the claim's namespace, name and labels. */
export interface ClaimInfo {
  pvName: string;
  pvcName?: string;
  pvcNamespace?: string;
  labels?: Record<string, string>;
}

const SAFE = /^[A-Za-z0-9._-]+$/;

/** The claim's directory, relative to basePath: each ${...} of the pattern replaced, each part checked. */
export function expandPattern(pattern: string, claim: ClaimInfo): string {
  const value = (name: string): string => {
    if (name === 'pv.name') return claim.pvName;
    if (name === 'pvc.name' || name === 'pvc.namespace') {
      const v = name === 'pvc.name' ? claim.pvcName : claim.pvcNamespace;
      if (!v) throw invalid(`pathPattern uses \${${name}}: run the external-provisioner with --extra-create-metadata`);
      return v;
    }
    if (name.startsWith('pvc.labels.')) {
      const v = claim.labels?.[name.slice('pvc.labels.'.length)];
      if (v === undefined) throw invalid(`pathPattern uses \${${name}}: the claim has no such label`);
      return v;
    }
    throw invalid(`pathPattern: unknown variable \${${name}} (pv.name, pvc.name, pvc.namespace, pvc.labels.KEY)`);
  };
  const rel = pattern.replace(/\$\{([^}]*)\}/g, (_, n: string) => value(n.trim()));
  const parts = rel.split('/').filter((s) => s !== '');
  if (!parts.length || parts.some((s) => s === '.' || s === '..' || !SAFE.test(s))) throw invalid(`pathPattern gives '${rel}': each part must be letters, digits, '.', '_' or '-'`);
  return parts.join('/');
}

/** Whether a pattern needs the claim's labels (read from the Kubernetes API). */
export const needsLabels = (pattern: string) => /\$\{\s*pvc\.labels\./.test(pattern);
