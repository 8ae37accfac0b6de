// The object layer's entry point: importing it registers the built-in backends.
import './file.js';
import './mem.js';
import { registerObjectLoader, registerObjectStore } from './registry.js';

// s3:// loads the AWS SDK (heavy) only when a store of that scheme is opened.
registerObjectLoader(['s3'], async () => registerObjectStore('s3', (await import('./s3.js')).openS3));

export * from './interface.js';
export { objectSchemes, objectUrlProblem, openObjectStore, registerObjectStore, registerObjectLoader } from './registry.js';
export { FallbackStore } from './fallback.js';
export { ThrottledStore, TokenBucket } from './throttle.js';
export { objectReadStream } from './read-stream.js';
export { MeteredStore } from './metered.js';
export { TimedStore, type RequestTimer } from './timed.js';
export { activeMetrics, enableMetrics, serveMetrics, parseMetricsAddress, type FerryMetrics, type MetricsEndpoint, type PolledDef, type Reading } from './metrics.js';
