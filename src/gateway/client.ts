// Where the gateway gets its client: the one function to replace when the gateway opens it through the
// client layer (openClient) instead of an SDK Volume.
import type { Format } from '../meta/types.js';
// Registers the object store backends (file://, mem://, s3://) for the volume this process opens.
import '../object/index.js';
import { Volume, volumeView } from '../sdk/volume.js';
import type { StorageOptions } from '../vfs/storage.js';
import type { VfsView } from '../vfs/view.js';

export interface GatewayClient {
  /** The namespace as root; callers get views of it as themselves (asUser). */
  root: VfsView;
  /** The format record as it is now (access keys change while the gateway runs). */
  loadFormat(): Promise<Format>;
  close(): Promise<void>;
}

export interface GatewayClientOptions {
  metaUrl: string;
  /** Seconds of attribute/entry caching (0: S3's read-after-write). */
  cacheTimeout: number;
  storage?: StorageOptions;
}

export async function openGatewayClient(o: GatewayClientOptions): Promise<GatewayClient> {
  const t = o.cacheTimeout;
  const vol = await Volume.open(o.metaUrl, { uid: 0, gid: 0, gids: [0], attrTimeout: t, entryTimeout: t, mountPoint: 's3-gateway', ...o.storage });
  const root = volumeView(vol);
  return { root, loadFormat: () => root.vfs.meta.load(), close: () => vol.close() };
}
