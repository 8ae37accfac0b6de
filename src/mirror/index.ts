export { MirrorMeta, type MirrorMetaOptions } from './mirror-meta.js';
export { Replicator, type ReplicatorOptions } from './replicator.js';
export { createMirror, openVolumeMeta, unregisterMirror, type CreateMirrorOptions, type OpenMetaOptions } from './setup.js';
export { mirrorOf, mirrorsOf, redactUrl, type MirrorOf, type MirrorEntry } from './format.js';
