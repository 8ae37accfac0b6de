// The package's main export: `import { Volume } from 'ferryfs'`.
export { Volume, constants, type VolumeOptions } from './volume.js';
export { FileHandle, type ReadStreamOptions, type WriteStreamOptions } from './file-handle.js';
export { Stats, Dirent, type StatFs } from './stats.js';
export { FsError, isFsError } from '../errors.js';
export { openMeta, type Meta, type Format } from '../meta/index.js';
export { openObjectStore, type ObjectStore } from '../object/index.js';
