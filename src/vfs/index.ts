export { VFS, type VfsOptions, type Handle, type HandleOptions } from './vfs.js';
export { BackgroundJobs, SESSION_TIMEOUT_MS, HEARTBEAT_MS } from './jobs.js';
export * from './flags.js';
