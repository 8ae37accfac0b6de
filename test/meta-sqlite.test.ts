// The meta conformance suite on the embedded SQLite engine: one fresh database file per volume.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { metaConformance } from './suites/meta-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-meta-sqlite-'));
let n = 0;

metaConformance('sqlite3', async () => `sqlite3://${join(dir, `meta-${++n}.db`)}`);

after(() => rmSync(dir, { recursive: true, force: true }));
