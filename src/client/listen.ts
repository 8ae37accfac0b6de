// Where a serving door listens: HOST:PORT (or a bare port) parsed once, the server bound, its URL made. Shared
// by the S3 gateway and the WebHDFS server, so a busy port or a bad address reads the same from both.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** host and port of `HOST:PORT`, `[V6]:PORT` or `PORT`; an Error naming the address when it is none of them. */
export function parseAddress(addr: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i >= 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : defaultHost;
  const portText = i >= 0 ? addr.slice(i + 1) : addr;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad address '${addr}' (expected HOST:PORT)`);
  return { host: host || '0.0.0.0', port };
}

/**
 * Binds server to addr; returns its URL (`http://127.0.0.1:9000`). A busy port rejects with node's EADDRINUSE
 * error, which the CLI prints as one line (cli/output.ts).
 */
export async function listenOn(server: Server, addr: string, scheme: 'http' | 'https' = 'http'): Promise<string> {
  const { host, port } = parseAddress(addr);
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') reject(new Error(`cannot listen on ${addr}: no such local address`));
      else if (e.code === 'EACCES') reject(new Error(`cannot listen on ${addr}: permission denied (ports below 1024 need root)`));
      else reject(e);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${h}:${a.port}`;
}
