// Where the gateway gets its client: openClient() with the gateway's settings, seen as root; each request
// then acts through a view of it as the key's user (asUser).
import { openClient, type ClientConfig } from '../client/index.js';
import { userContext, type Format } from '../meta/types.js';
import type { VfsView } from '../vfs/view.js';

export interface GatewayClient {
  /** The namespace as root; callers get views of it as themselves (asUser). */
  root: VfsView;
  /** The format record as it is now (access keys change while the gateway runs). */
  loadFormat(): Promise<Format>;
  /** Where --metrics are served (HOST:PORT), when asked for. */
  metricsAddress?: string;
  close(): Promise<void>;
}

export interface GatewayClientOptions {
  metaUrl: string;
  /** Seconds of attribute/entry caching (0: S3's read-after-write). */
  cacheTimeout: number;
  /** The rest of the client's settings (caches, write-back). */
  client?: Omit<ClientConfig, 'metaUrl'>;
  log?: (line: string) => void;
}

export async function openGatewayClient(o: GatewayClientOptions): Promise<GatewayClient> {
  const t = o.cacheTimeout;
  const client = await openClient(
    { sessionLabel: 's3-gateway', role: 'gateway', ...o.client, metaUrl: o.metaUrl, metaCache: { attrTimeout: t, entryTimeout: t } },
    { log: o.log },
  );
  const root = client.view(userContext(0, 0, [0]));
  return { root, loadFormat: () => client.meta.load(), metricsAddress: client.metricsAddress, close: () => client.close() };
}
