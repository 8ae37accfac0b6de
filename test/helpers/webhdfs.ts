// A WebHDFS server on a throwaway volume for tests and benchmarks: a temp volume (SQLite + file://), a users
// and a groups file, the server started in-process on 127.0.0.1:0 with simple authentication, and a `webhdfs`
// npm client (promisified where a test needs it) or raw fetch for the protocol.
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebHdfs, type WebHdfsOptions } from '../../src/webhdfs/index.js';
import { tempVolume, type TempVolume, type TempVolumeOptions } from './volume.js';

const require = createRequire(import.meta.url);

/** The npm `webhdfs` client (CommonJS, callback style). */
export type HdfsClient = any;

export const USERS = 'root:0:0\nalice:1001:1001\nbob:1002:1002\ncarol:1003\n# a comment\nproxy:1010:1010\n';
export const GROUPS = 'staff:2000:alice,bob\nalice:1001\nbob:1002\nroot:0\n';

export interface TestWebHdfs {
  t: TempVolume;
  server: WebHdfs;
  url: string;
  /** `http://127.0.0.1:PORT/webhdfs/v1` */
  base: string;
  /** The npm client acting as user. */
  client(user?: string): HdfsClient;
  close(): Promise<void>;
}

export async function startWebHdfs(opts: Partial<WebHdfsOptions> = {}, vopts: TempVolumeOptions = {}, existing?: TempVolume): Promise<TestWebHdfs> {
  // The test's own SDK client caches nothing: it checks what the server just did.
  const t = existing ?? (await tempVolume({ ...vopts, volume: { attrTimeout: 0, entryTimeout: 0, ...vopts.volume } }));
  const usersFile = join(t.dir, 'users.txt');
  const groupsFile = join(t.dir, 'groups.txt');
  await writeFile(usersFile, USERS);
  await writeFile(groupsFile, GROUPS);
  const server = await WebHdfs.start({
    metaUrl: t.url,
    address: '127.0.0.1:0',
    allowSimpleAuth: true,
    usersFile,
    groupsFile,
    proxyUsers: ['proxy'],
    errorLog: () => undefined,
    ...opts,
  });
  const WebHDFS = require('webhdfs') as { createClient(o: Record<string, unknown>): HdfsClient };
  return {
    t,
    server,
    url: server.url,
    base: `${server.url}/webhdfs/v1`,
    client(user = 'root') {
      return WebHDFS.createClient({ user, host: '127.0.0.1', port: server.port, path: '/webhdfs/v1' });
    },
    async close() {
      await server.close(2000);
      if (!existing) await t.cleanup();
    },
  };
}

/** Calls a callback-style client method as a promise. */
export function call<T = unknown>(client: HdfsClient, method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](...args, (err: Error | null, result: T) => (err ? reject(err) : resolve(result)));
  });
}
