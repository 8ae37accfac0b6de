// The CSI v1 services as @grpc/grpc-js definitions, loaded from csi.proto at run time (@grpc/proto-loader):
// field names as in the proto (snake_case), int64 as numbers, enums as their names.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';

/**
 * csi.proto sits next to this file in src/; the build runs from dist/src/csi/ and reads it from src/ (an image
 * that ships only dist/ copies it next to the built file, where it is looked for first).
 */
export const CSI_PROTO = [new URL('./csi.proto', import.meta.url), new URL('../../../src/csi/csi.proto', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../../src/csi/csi.proto', import.meta.url));

export interface CsiServices {
  Identity: ServiceClientConstructor;
  Controller: ServiceClientConstructor;
  Node: ServiceClientConstructor;
}

let loaded: Promise<CsiServices> | undefined;

export function csiServices(): Promise<CsiServices> {
  loaded ??= (async () => {
    const [grpc, loader] = await Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]);
    const def = await loader.load(CSI_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const v1 = ((grpc.loadPackageDefinition(def).csi as GrpcObject).v1 as GrpcObject);
    return { Identity: v1.Identity as ServiceClientConstructor, Controller: v1.Controller as ServiceClientConstructor, Node: v1.Node as ServiceClientConstructor };
  })();
  return loaded;
}
