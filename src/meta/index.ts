// The metadata layer's public face: engines register themselves on import.
import './engines/sql/sqlite.js';
import './engines/remote/client.js';
import './engines/sql/postgres.js';
import './engines/sql/mysql.js';
import './engines/redis/engine.js';

export * from './types.js';
export type { Meta } from './interface.js';
export type { Engine, Tx } from './tx.js';
export { openMeta, registerMeta, metaSchemes } from './registry.js';
export { BaseMeta } from './base/index.js';
