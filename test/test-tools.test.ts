// Tests run the programs the setup installed, never whatever comes first on PATH (a pyenv shim's awscli v1
// once failed a presigned-URL test): every test spawns awscli, fio, python3 and s3cmd through
// test/helpers/tools.ts, which knows their Debian paths.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { missingTool, tool } from './helpers/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NAMES = 'aws|fio|python3|s3cmd|rclone';
// A bare name handed to a spawning call, or kept as the fallback when the Debian path is missing.
const SPAWN_BY_NAME = new RegExp(`\\b(run|spawn|spawnSync|execFile|execFileSync|exec|execSync|sh)\\(\\s*['"\`](${NAMES})['"\`]`);
const FALLBACK_BY_NAME = new RegExp(`:\\s*['"\`](${NAMES})['"\`]`);

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('no test spawns awscli, fio, python3 or s3cmd by name from PATH', async () => {
  const offenders: string[] = [];
  for (const file of await tsFiles(join(ROOT, 'test'))) {
    if (file.endsWith('helpers/tools.ts')) continue;
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      if (SPAWN_BY_NAME.test(line) || FALLBACK_BY_NAME.test(line)) offenders.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, [], `use tool(NAME) from test/helpers/tools.ts:\n${offenders.join('\n')}`);
});

test('tool() gives the Debian path, whatever PATH holds', () => {
  for (const name of ['aws', 'fio', 'python3'] as const) {
    if (missingTool(name)) assert.throws(() => tool(name), /is missing: run 'npm run test:all'/);
    else assert.equal(tool(name), `/usr/bin/${name}`);
  }
});
