// The native addons of block transforms and the disk cache, loaded on first use: a client without checksum,
// compression, shards or a disk cache never pays their start-up (tens of milliseconds each, for every command
// and every SDK import).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let crc: typeof import('@node-rs/crc32') | undefined;
let lz4Mod: typeof import('lz4-napi') | undefined;
let zstdMod: typeof import('zstd-napi') | undefined;

const crcMod = () => (crc ??= require('@node-rs/crc32') as typeof import('@node-rs/crc32'));

export function crc32c(data: Buffer | string): number {
  return crcMod().crc32c(data);
}

export function crc32(data: Buffer | string): number {
  return crcMod().crc32(data);
}

export function lz4(): typeof import('lz4-napi') {
  return (lz4Mod ??= require('lz4-napi') as typeof import('lz4-napi'));
}

export function zstd(): typeof import('zstd-napi') {
  return (zstdMod ??= require('zstd-napi') as typeof import('zstd-napi'));
}
