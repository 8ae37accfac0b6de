// The CSI Identity service: the driver's name and version, what it serves, and Probe (the metadata engine of
// every volume this process has opened answers).
import { status } from '@grpc/grpc-js';
import { rootContext } from '../meta/types.js';
import { FERRY_VERSION } from '../version.js';
import type { ClientCache } from './clients.js';
import { CsiError } from './status.js';

export const DRIVER_NAME = 'csi.ferryfs.io';

export function identityService(clients: ClientCache | undefined, withController: boolean) {
  return {
    async GetPluginInfo() {
      return { name: DRIVER_NAME, vendor_version: FERRY_VERSION, manifest: {} };
    },
    async GetPluginCapabilities() {
      return {
        capabilities: [
          ...(withController ? [{ service: { type: 'CONTROLLER_SERVICE' } }] : []),
          { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } },
          { volume_expansion: { type: 'ONLINE' } },
        ],
      };
    },
    async Probe() {
      if (process.env.FERRY_META_URL && clients) await clients.get(undefined).catch(() => undefined);
      for (const c of (await clients?.all()) ?? []) {
        try {
          await c.meta.statfs(rootContext());
        } catch (e) {
          throw new CsiError(status.UNAVAILABLE, `the metadata engine of volume ${c.format.name} does not answer: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      return { ready: { value: true } };
    },
  };
}
