// The WebHDFS door: `ferry webhdfs META-URL ADDRESS`, or in-process with WebHdfs.start().
export { WebHdfs, type WebHdfsOptions } from './server.js';
export { Identities, type HdfsUser, type IdentityOptions } from './identity.js';
