// The meta conformance suite through the metadata service: ferry://HOST:PORT in front of SQLite, one
// MetaServer per volume, so every operation crosses HTTP exactly as a far client's would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import '../src/meta/index.js';
import { newServiceSecret } from '../src/meta/service-auth.js';
import { metaConformance } from './suites/meta-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-meta-remote-'));
// The databases are empty until the suite formats them through the service: the server takes a fixed
// secret, the clients the same one from the environment.
const secret = newServiceSecret();
process.env.FERRY_SERVICE_SECRET = secret;
const servers: MetaServer[] = [];
let n = 0;

metaConformance('remote', async () => {
  const server = new MetaServer(`sqlite3://${join(dir, `meta-${++n}.db`)}`, { secrets: async () => ({ secret, created: new Date().toISOString() }) });
  servers.push(server);
  return server.listen('127.0.0.1', 0);
});

after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});
