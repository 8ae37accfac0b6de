#!/usr/bin/env node
// Builds the mount-syscalls addon (ferry_sys.node: mount(2), umount2(2)) with node-gyp. `--optional` (npm
// prepare) never fails: without it the CSI node service execs mount(8)/umount(8) instead, only slower.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes('--optional');
const addon = join(here, 'build/Release/ferry_sys.node');

function skip(why) {
  console.error(`ferry: mount-syscalls addon not built: ${why}; mounts fall back to mount(8) (npm run build:sys retries)`);
  process.exit(optional ? 0 : 1);
}

if (optional && existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  if (['ferry_sys.cc', 'binding.gyp', 'build.mjs'].every((f) => statSync(join(here, f)).mtimeMs < built)) {
    console.error(`ferry: mount-syscalls addon up to date: ${addon}`);
    process.exit(0);
  }
}

const candidates = [process.env.npm_config_node_gyp];
try {
  candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
} catch {}
candidates.push(join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/share/nodejs/node-gyp/bin/node-gyp.js');
const gyp = candidates.find((c) => c && existsSync(c));
if (!gyp) skip('node-gyp not found (it ships with npm)');
// --nodedir: the installed Node headers; without it node-gyp downloads them, which fails offline.
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : dirname(dirname(process.execPath)));
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], { cwd: here, stdio: 'inherit' });
if (r.status !== 0) skip(`node-gyp failed (exit ${r.status})`);
console.error(`ferry: mount-syscalls addon built: ${addon}`);
