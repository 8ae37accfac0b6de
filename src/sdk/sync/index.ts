// ferry sync without the CLI: endpoints (one module per kind registers itself) and the merge-join.
import './local.js';
import './s3.js';
import './ferry.js';

export { endpointKindOf, openEndpoint, type Endpoint, type SharedOpen, type SyncEntry } from './endpoint.js';
export { parseFerryLocation } from './ferry.js';
export { syncTrees, type SyncAction, type SyncEvents, type SyncOptions, type SyncStats } from './sync.js';
export type { Rule } from './filter.js';
