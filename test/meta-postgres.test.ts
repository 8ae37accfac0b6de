// The meta conformance suite, a multi-client stress and the session-death test on PostgreSQL.
// Each volume gets its own table prefix in the shared test database; the tables are dropped afterwards.
import { after, describe } from 'node:test';
import { dropPrefixed, multiClientStress, requireServer, uniquePrefix, withOptions } from './helpers/servers.js';
import { metaConformance } from './suites/meta-suite.js';
import { sessionDeath } from './suites/session-death.js';

// Test volumes need no durability: without an fsync per commit the 10,000-entry cases take seconds, not minutes.
process.env.PGOPTIONS ??= '-c synchronous_commit=off';

const base = await requireServer('postgres');
if (base) {
  const prefix = uniquePrefix('fp');
  let n = 0;
  const newUrl = async () => withOptions(base, { prefix: `${prefix}${++n}_` });
  describe('postgres', () => {
    metaConformance('postgres', newUrl);
    multiClientStress('postgres', newUrl);
    sessionDeath('postgres', newUrl);
  });
  after(() => dropPrefixed('postgres', base, prefix));
}
