// The object layer's entry point: importing it registers the built-in backends.
import './file.js';
import './mem.js';
import { registerObjectStore as registerS3 } from './registry.js';

// s3:// loads the AWS SDK (heavy) only when a store of that scheme is opened.
registerS3('s3', async (url, raw, options) => (await import('./s3.js')).openS3(url, raw, options));

export * from './interface.js';
export { objectSchemes, openObjectStore, registerObjectStore } from './registry.js';
export { FallbackStore } from './fallback.js';
