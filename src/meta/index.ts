// The metadata layer's public face. Engines are announced by scheme here and loaded (with their drivers)
// when a URL of their scheme is first opened; each engine module calls registerMeta when imported.
import { registerMetaLoader } from './registry.js';

registerMetaLoader(['sqlite3', 'sqlite'], () => import('./engines/sql/sqlite.js'));
registerMetaLoader(['ferry'], () => import('./engines/remote/client.js'));
registerMetaLoader(['postgres', 'postgresql'], () => import('./engines/sql/postgres.js'));
registerMetaLoader(['mysql'], () => import('./engines/sql/mysql.js'));
registerMetaLoader(['redis', 'rediss'], () => import('./engines/redis/engine.js'));

export * from './types.js';
export type { Meta } from './interface.js';
export type { Engine, Tx } from './tx.js';
export { openMeta, registerMeta, registerMetaLoader, metaSchemes } from './registry.js';
export { BaseMeta } from './base/index.js';
