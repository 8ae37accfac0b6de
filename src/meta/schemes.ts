// The engines' URL schemes, announced without loading any engine: each engine module (and its driver) is
// imported when a URL of its scheme is first opened. `ferry --help` imports only this to list the schemes.
import { registerMetaLoader } from './registry.js';

registerMetaLoader(['sqlite3', 'sqlite'], () => import('./engines/sql/sqlite.js'));
registerMetaLoader(['ferry', 'ferrys'], () => import('./engines/remote/client.js'));
registerMetaLoader(['postgres', 'postgresql'], () => import('./engines/sql/postgres.js'));
registerMetaLoader(['mysql'], () => import('./engines/sql/mysql.js'));
registerMetaLoader(['redis', 'rediss'], () => import('./engines/redis/engine.js'));
registerMetaLoader(['etcd', 'etcds'], () => import('./engines/etcd/engine.js'));

export { metaSchemes, metaUrlProblem } from './registry.js';
