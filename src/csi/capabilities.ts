// Volume capabilities FerryFS can serve: a file system (mount) in any access mode, since every node mounts
// the same shared volume; raw block devices are not offered.
import { invalid } from './status.js';

export interface VolumeCapability {
  access_type?: 'mount' | 'block';
  mount?: { fs_type?: string; mount_flags?: string[] } | null;
  block?: object | null;
  access_mode?: { mode?: string } | null;
}

/** Why FerryFS cannot serve this capability, or undefined when it can. */
export function unsupported(cap: VolumeCapability): string | undefined {
  if (cap.access_type === 'block' || cap.block) return 'raw block volumes are not supported (FerryFS is a file system)';
  if (cap.access_type !== 'mount' && !cap.mount) return 'the capability names no access type (mount)';
  const fs = cap.mount?.fs_type ?? '';
  if (fs && fs !== 'ferry' && fs !== 'fuse.ferry') return `fs_type '${fs}' is not FerryFS`;
  if (!cap.access_mode?.mode || cap.access_mode.mode === 'UNKNOWN') return 'the capability has no access mode';
  return undefined;
}

/** INVALID_ARGUMENT when missing or when one is unsupported (CreateVolume, stage, publish). */
export function requireCapabilities(caps: VolumeCapability[] | undefined, what: string): void {
  if (!caps?.length) throw invalid(`${what}: volume capability missing`);
  for (const c of caps) {
    const why = unsupported(c);
    if (why) throw invalid(`${what}: ${why}`);
  }
}

/** A read-only access mode: the node mounts such a volume read-only. */
export const readOnlyMode = (cap: VolumeCapability | undefined) => /READER_ONLY$/.test(cap?.access_mode?.mode ?? '');
