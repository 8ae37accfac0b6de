// One WebHDFS request as an operation sees it, the query parameters it reads, and the answers it sends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VfsView } from '../vfs/view.js';
import { badParam } from './errors.js';
import type { HdfsUser, Identities } from './identity.js';

export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  /** The op, upper case. */
  op: string;
  /** The absolute path the request names, normalized ("/" for the root of what the server serves). */
  path: string;
  query: URLSearchParams;
  user: HdfsUser;
  /** The namespace as the request's user sees it. */
  view: VfsView;
  ids: Identities;
  /** `http://host:port` as the client reached this server (redirects point here). */
  origin: string;
}

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An answer without a body (SETPERMISSION, CONCAT, ...). */
export function sendEmpty(res: ServerResponse, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

export function boolParam(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw badParam(name, v, 'expected true or false');
}

/** An integer parameter in [min, max]; dflt when absent (undefined: absent is allowed and returned). */
export function intParam(q: URLSearchParams, name: string, dflt: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = q.get(name);
  if (v === null || v === '' || v === 'null') return dflt;
  if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw badParam(name, v, `expected an integer${min > -Infinity ? ` >= ${min}` : ''}`);
  return Number(v);
}

export function requiredParam(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (v === null || v === '') throw badParam(name, v, 'this operation needs it');
  return v;
}

/** `permission=`: an octal mode of up to 4 digits (sticky bit included), dflt when absent. */
export function permissionParam(q: URLSearchParams, dflt: number): number {
  const v = q.get('permission');
  if (v === null || v === '' || v === 'null') return dflt;
  if (!/^[0-1]?[0-7]{1,3}$/.test(v)) throw badParam('permission', v, 'expected an octal permission (e.g. 755 or 1777)');
  return parseInt(v, 8);
}
