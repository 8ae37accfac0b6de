// `ferry gateway` as a child process on a temp volume, for tests that must survive a gateway that hangs or
// balloons (an in-process gateway stuck in a loop would stop the test's own timers), plus a raw HTTP/1.1
// client that sends exactly the bytes it is given and a SigV4 signer for such requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { ROOT_KEY, addKeys, type TestKey } from './gateway.js';
import { tempVolume, type TempVolume, type TempVolumeOptions } from './volume.js';
import { Sha256 } from './sha256.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface ChildGateway {
  t: TempVolume;
  proc: ChildProcess;
  url: string;
  host: string;
  port: number;
  /** Resident memory of the gateway process in bytes (Linux /proc). */
  rss(): number;
  alive(): boolean;
  /** The last 20,000 characters the gateway printed (what it said before it died). */
  output(): string;
  close(): Promise<void>;
}

/**
 * Starts `ferry gateway META ADDRESS ...args` with ROOT_KEY added to a new volume (made with vopts), or
 * on `existing` (a gateway started again on the volume of one killed; close() then leaves the volume to its
 * owner). `address` (default 127.0.0.1:0, a free port) may name the port of a killed gateway, so that its
 * clients, retrying, find the new one where the old one was.
 */
export async function startChildGateway(args: string[] = [], keys: TestKey[] = [ROOT_KEY], vopts: TempVolumeOptions = {}, existing?: TempVolume, address = '127.0.0.1:0'): Promise<ChildGateway> {
  const t = existing ?? (await tempVolume(vopts));
  if (!existing) await addKeys(t, keys);
  const proc = spawn(process.execPath, [MAIN, 'gateway', t.url, address, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    proc.once('exit', () => reject(new Error(`gateway exited: ${out}`)));
  });
  const u = new URL(url);
  return {
    t,
    proc,
    url,
    host: u.host,
    port: Number(u.port),
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
    alive: () => proc.exitCode === null && proc.signalCode === null,
    output: () => out,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      if (!existing) await t.cleanup();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses the first response in `all` once it is complete (a Content-Length reply), else undefined. */
function parseResponse(all: Buffer, atClose: boolean): RawResponse | undefined {
  let end = all.indexOf('\r\n\r\n');
  // Interim replies (100 Continue) come before the response.
  while (end >= 0 && /^HTTP\/1\.[01] 1\d\d/.test(all.subarray(0, 12).toString('latin1'))) {
    all = all.subarray(end + 4);
    end = all.indexOf('\r\n\r\n');
  }
  if (end < 0) return undefined;
  const lines = all.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const rest = all.subarray(end + 4);
  if (len !== undefined && rest.length >= len) return { status, headers, body: rest.subarray(0, len) };
  return atClose ? { status, headers, body: rest } : undefined;
}

/**
 * Sends `head` (request line and headers, CRLF-terminated, without the blank line) and `body` on a fresh
 * connection and parses the first response. `halfClose` ends the sending side after the body (so a server
 * waiting for bytes that will never come sees the end). Resolves undefined when the server closed the
 * connection without a response; rejects when nothing came back within `timeoutMs`.
 */
export function rawRequest(port: number, head: string, body: Buffer, timeoutMs: number, halfClose = false): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (r: RawResponse | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    sock.on('data', (d: Buffer) => {
      parts.push(d);
      const r = parseResponse(Buffer.concat(parts), false);
      if (r) finish(r);
    });
    sock.on('close', () => finish(parseResponse(Buffer.concat(parts), true)));
    sock.on('error', () => undefined); // a reset after the server answered (or refused) is still an answer
    sock.write(head + '\r\n');
    if (halfClose) sock.end(body);
    else sock.write(body);
  });
}


/** Headers of a SigV4-signed request (the SDK's own signer) for this method, path, query and body. */
export async function signedHeaders(
  g: { host: string; port: number },
  method: string,
  path: string,
  query: Record<string, string>,
  body: Buffer,
  extra: Record<string, string> = {},
  key = ROOT_KEY,
  signingDate?: Date,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secret }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
  const headers = { host: g.host, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'), 'content-length': String(body.length), ...extra };
  const r = await signer.sign({ method, protocol: 'http:', hostname: '127.0.0.1', port: g.port, path, query, headers, body }, { signingDate });
  return r.headers as Record<string, string>;
}

/** The request line and headers of a raw request (`connection: close` added: one request per connection). */
export function requestHead(method: string, target: string, headers: Record<string, string> | Array<[string, string]>): string {
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  const close = list.some(([k]) => k.toLowerCase() === 'connection') ? '' : 'connection: close\r\n';
  return `${method} ${target} HTTP/1.1\r\n` + list.map(([k, v]) => `${k}: ${v}\r\n`).join('') + close;
}

/** The request target (path?query) of a SigV4 presigned URL for this method, path and query (valid 15 minutes). */
export async function presignedTarget(g: { host: string; port: number }, method: string, path: string, query: Record<string, string>, key = ROOT_KEY): Promise<string> {
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secret }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
  const r = await signer.presign({ method, protocol: 'http:', hostname: '127.0.0.1', port: g.port, path, query, headers: { host: g.host } }, { expiresIn: 900 });
  const qs = Object.entries(r.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return qs ? `${path}?${qs}` : path;
}
