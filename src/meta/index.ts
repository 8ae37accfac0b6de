// The metadata layer's public face. Engines are announced by scheme here and loaded (with their drivers)
// when a URL of their scheme is first opened; each engine module calls registerMeta when imported.
import './schemes.js';

export * from './types.js';
export type { Meta } from './interface.js';
export type { Engine, Tx } from './tx.js';
export { openMeta, registerMeta, registerMetaLoader, metaSchemes } from './registry.js';
export { BaseMeta } from './base/index.js';
