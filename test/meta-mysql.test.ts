// The meta conformance suite, a multi-client stress and the session-death test on MariaDB/MySQL.
// Each volume gets its own table prefix in the shared test database; the tables are dropped afterwards.
import { after, describe } from 'node:test';
import { dropPrefixed, multiClientStress, requireServer, uniquePrefix, withOptions } from './helpers/servers.js';
import { metaConformance } from './suites/meta-suite.js';
import { sessionDeath } from './suites/session-death.js';

const base = await requireServer('mysql');
if (base) {
  const prefix = uniquePrefix('fm');
  let n = 0;
  const newUrl = async () => withOptions(base, { prefix: `${prefix}${++n}_` });
  describe('mysql', () => {
    metaConformance('mysql', newUrl);
    multiClientStress('mysql', newUrl);
    sessionDeath('mysql', newUrl);
  });
  after(() => dropPrefixed('mysql', base, prefix));
}
