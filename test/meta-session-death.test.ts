// The session-death test on the embedded SQLite engine (the server engines run it from their own files).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { sessionDeath } from './suites/session-death.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-session-death-'));
let n = 0;

sessionDeath('sqlite3', async () => `sqlite3://${join(dir, `meta-${++n}.db`)}`);

after(() => rmSync(dir, { recursive: true, force: true }));
