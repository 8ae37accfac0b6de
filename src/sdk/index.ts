// The package's main export: `import { Volume } from 'ferryfs'`. Only the node:fs/promises-shaped surface
// is public; the layers under it (meta, object stores, the VFS) are internal and may change.
export { Volume, constants, type VolumeOptions } from './volume.js';
export type { FileHandle, ReadStreamOptions, WriteStreamOptions } from './file-handle.js';
export { Stats, Dirent, type StatFs } from './stats.js';
export { FsError, isFsError, type ErrnoCode } from '../errors.js';
export type { AclEntry } from '../meta/acl.js';
