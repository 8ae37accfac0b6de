// The names a format record may give for each block transform. Kept apart from the transforms so that
// the metadata layer and the CLI can check a record without loading the codecs' native modules.
export const COMPRESSIONS = ['none', 'lz4', 'zstd'];
export const CHECKSUMS = ['none', 'crc32c'];
/** The checksum of a new volume unless it opts out: blocks are verified on every read, so corruption is EIO, never wrong bytes. */
export const DEFAULT_CHECKSUM = 'crc32c';
export const MAX_SHARDS = 256;
