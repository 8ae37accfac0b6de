// `ferry csi`: the Identity service plus the Controller, the Node or both, served over gRPC on a Unix socket
// (the kubelet and the external-* sidecars talk to it there). Each call is logged by method and volume, never
// with its secrets.
import { rm } from 'node:fs/promises';
import type { Server, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { ClientCache } from './clients.js';
import { controllerService } from './controller.js';
import { identityService } from './identity.js';
import { NodeService } from './node.js';
import { csiServices } from './proto.js';
import { toStatus } from './status.js';

export type CsiMode = 'controller' | 'node' | 'all';

export interface CsiServerOptions {
  /** unix:///path/csi.sock (or a path); tcp HOST:PORT for tests by hand is not offered: kubelet uses sockets. */
  endpoint: string;
  nodeId: string;
  mode: CsiMode;
  region?: string;
  zone?: string;
  stateDir: string;
  checkMs?: number;
  log?: (line: string) => void;
}

export interface CsiServer {
  socket: string;
  node?: NodeService;
  close(): Promise<void>;
}

type Handler = (req: any) => Promise<object>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The socket path of an endpoint: unix:///a/b, unix:/a/b or /a/b. */
export function socketPath(endpoint: string): string {
  const m = /^unix:(?:\/\/)?(\/.*)$/.exec(endpoint);
  if (m) return m[1]!;
  if (endpoint.startsWith('/')) return endpoint;
  throw new Error(`--endpoint must be unix:///PATH (a Unix socket), not '${endpoint}'`);
}

function adapt(name: string, fn: Handler, log: (l: string) => void) {
  return (call: ServerUnaryCall<Record<string, unknown>, object>, cb: sendUnaryData<object>) => {
    const id = call.request.volume_id ?? call.request.snapshot_id ?? call.request.source_volume_id ?? call.request.name ?? '';
    fn(call.request).then(
      (res) => cb(null, res),
      (e: unknown) => {
        const s = toStatus(e);
        log(`ferry csi: ${name}${id ? ` ${String(id)}` : ''}: ${s.details}`);
        cb({ code: s.code, details: s.details });
      },
    );
  };
}

function wrap(handlers: Record<string, Handler>, log: (l: string) => void) {
  return Object.fromEntries(Object.entries(handlers).map(([n, fn]) => [n, adapt(n, fn, log)]));
}

export async function startCsiServer(o: CsiServerOptions): Promise<CsiServer> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const grpc = await import('@grpc/grpc-js');
  const svc = await csiServices();
  const socket = socketPath(o.endpoint);
  const withController = o.mode !== 'node';
  const clients = withController ? new ClientCache(o.stateDir, 'csi-controller') : undefined;
  const server: Server = new grpc.Server();
  server.addService(svc.Identity.service, wrap(identityService(clients, withController), log));
  if (clients) server.addService(svc.Controller.service, wrap(controllerService(clients), log));
  let node: NodeService | undefined;
  if (o.mode !== 'controller') {
    node = new NodeService({ nodeId: o.nodeId, region: o.region, zone: o.zone, stateDir: o.stateDir, checkMs: o.checkMs, log });
    await node.start();
    server.addService(svc.Node.service, wrap(node.handlers(), log));
  }
  await rm(socket, { force: true }); // left by a previous process of the driver
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  return {
    socket,
    node,
    async close() {
      node?.stop();
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      await clients?.close();
      await rm(socket, { force: true });
    },
  };
}
