#!/usr/bin/env node
// Builds the FUSE addon (ferry_fuse.node) with node-gyp against Debian's libfuse3-dev.
// `node build.mjs --optional` (run by npm install/prepare) never fails: without libfuse3 headers it says
// what to install and leaves the SDK, CLI and gateway working; `ferry mount` then gives the same advice.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes('--optional');
const advice = 'install libfuse3-dev, fuse3 and pkg-config (Debian/Ubuntu: apt-get install -y fuse3 libfuse3-dev pkg-config), then run `npm run build:fuse`';

function skip(why) {
  console.error(`ferry: FUSE addon not built: ${why}; ${advice}`);
  process.exit(optional ? 0 : 1);
}

// The boundary's generated files (abi.gen.h here, src/fuse/abi.gen.ts) follow src/fuse/abi.json; they are
// committed, so this only rewrites them after an edit of the spec.
execFileSync(process.execPath, [join(here, 'genabi.mjs')], { stdio: 'inherit' });

// `prepare` runs again whenever npm installs this clone somewhere (`npm install /path/to/ferryfs`): an addon
// newer than all its sources is kept instead of spending a node-gyp build on the same bytes.
const addon = join(here, 'build/Release/ferry_fuse.node');
if (optional && existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  const sources = ['ferry_fuse.cc', 'abi.gen.h', 'binding.gyp', 'build.mjs'].map((f) => statSync(join(here, f)).mtimeMs);
  if (sources.every((m) => m < built)) {
    console.error(`ferry: FUSE addon up to date: ${addon} (npm run build:fuse rebuilds it)`);
    process.exit(0);
  }
}

try {
  execFileSync('pkg-config', ['--exists', 'fuse3'], { stdio: 'ignore' });
} catch {
  skip('libfuse3 development files not found (pkg-config fuse3)');
}

function nodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  candidates.push(join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) skip('node-gyp not found (it ships with npm)');
// --nodedir: use the installed Node headers; without it node-gyp downloads them, which fails offline.
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : dirname(dirname(process.execPath)));
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], { cwd: here, stdio: 'inherit' });
if (r.status !== 0) skip(`node-gyp failed (exit ${r.status})`);
console.error(`ferry: FUSE addon built: ${addon}`);
