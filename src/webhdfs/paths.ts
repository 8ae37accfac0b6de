// The path part of a WebHDFS URL: /webhdfs/v1/<PATH>, percent-decoded, checked as HDFS checks names.
import { badParam, hdfsErr } from './errors.js';

export const PREFIX = '/webhdfs/v1';

/** The absolute path a request URL names, or undefined when the URL is not under /webhdfs/v1. */
export function requestPath(rawPath: string): string | undefined {
  if (rawPath !== PREFIX && !rawPath.startsWith(PREFIX + '/')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath.slice(PREFIX.length));
  } catch {
    throw hdfsErr('IllegalArgumentException', `Invalid path name ${rawPath}: bad percent-encoding`);
  }
  return checkPath(decoded || '/');
}

/** HDFS refuses "." and ".." components and relative paths (DFSUtil.isValidName); doubled slashes are one. */
export function checkPath(p: string, param?: string): string {
  if (!p.startsWith('/') || p.includes('\0')) throw param ? badParam(param, p, 'expected an absolute path') : hdfsErr('IllegalArgumentException', `Invalid path name ${p}`);
  const parts = p.split('/').filter(Boolean);
  if (parts.some((x) => x === '.' || x === '..')) throw param ? badParam(param, p, 'no "." or ".." components') : hdfsErr('IllegalArgumentException', `Invalid path name ${p}`);
  return '/' + parts.join('/');
}

export function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
