// The S3 gateway: `ferry gateway META-URL ADDRESS`, or in-process with Gateway.start().
export { Gateway, type GatewayOptions } from './server.js';
export { addKey, removeKey, keysOf, newAccessKey, newSecretKey, type GatewayKey, type KeyTable } from './keys.js';
