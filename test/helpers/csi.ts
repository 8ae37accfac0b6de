// Playing the kubelet and the external-* sidecars: `ferry csi` as a child process on a Unix socket, and gRPC
// clients of its three services (the same csi.proto), each call a promise that rejects with the gRPC status.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { csiServices } from '../../src/csi/proto.js';

/** The built CLI (not imported from cli.ts, whose test hooks would make a benchmark a test run). */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export type Call = (method: string, req?: object) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface CsiDriver {
  child: ChildProcess;
  identity: Call;
  controller: Call;
  node: Call;
  /** What the driver logged so far. */
  output(): string;
  stop(): Promise<void>;
}

function caller(client: Client): Call {
  return (method, req = {}) =>
    new Promise((res, rej) => {
      const fn = (client as unknown as Record<string, (r: object, cb: (e: ServiceError | null, v: unknown) => void) => void>)[method];
      if (typeof fn !== 'function') return rej(new Error(`no method ${method}`));
      fn.call(client, req, (e, v) => (e ? rej(e) : res(v)));
    });
}

export async function startDriver(socket: string, stateDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<CsiDriver> {
  const child = spawn(process.execPath, [MAIN, 'csi', '--endpoint', `unix://${socket}`, '--state-dir', stateDir, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FERRY_CSI_CHECK_MS: '200', ...env },
  });
  let out = '';
  const lines = createInterface({ input: child.stderr! });
  await new Promise<void>((res, rej) => {
    lines.on('line', (l) => {
      out += l + '\n';
      if (/serving on .*; ready/.test(l)) res();
    });
    child.once('exit', (c) => rej(new Error(`ferry csi exited with ${c}: ${out}`)));
  });
  const svc = await csiServices();
  const target = `unix://${socket}`;
  const clients = [new svc.Identity(target, credentials.createInsecure()), new svc.Controller(target, credentials.createInsecure()), new svc.Node(target, credentials.createInsecure())];
  return {
    child,
    identity: caller(clients[0]!),
    controller: caller(clients[1]!),
    node: caller(clients[2]!),
    output: () => out,
    async stop() {
      for (const c of clients) c.close();
      if (child.exitCode !== null) return;
      const gone = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((res) => setTimeout(res, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A mount capability as the kubelet sends it. */
export function mountCap(mode = 'MULTI_NODE_MULTI_WRITER', flags: string[] = []): object {
  return { mount: { fs_type: '', mount_flags: flags }, access_mode: { mode } };
}
