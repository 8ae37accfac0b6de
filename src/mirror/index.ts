export { MirrorMeta, type MirrorMetaOptions } from './mirror-meta.js';
export { Replicator, type ReplicatorOptions } from './replicator.js';
export { createMirror, openVolumeMeta, removeMirror, resyncMirror, unregisterMirror, type CreateMirrorOptions, type OpenMetaOptions } from './setup.js';
export { dataCopyOf, mirrorOf, mirrorsOf, redactUrl, resyncHint, retentionOf, type DataCopyState, type MirrorOf, type MirrorEntry } from './format.js';
export { DataCopier, pendingData, type DataCopierOptions, type SliceBlocks } from './data-copier.js';
export { formatDuration, parseDuration, trimForMirrors } from '../meta/retention.js';
