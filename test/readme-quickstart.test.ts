// The README's quick start, as a new user meets it: its second command (the test command) is exactly what CI
// runs and installs what the tests need before running them; its first command, run verbatim in a fresh clone
// (FERRY_SLOW=1, set by .ci/run: it clones the repository and runs `npm ci`), installs, builds and runs the
// main job without npx (which would copy the repository into its cache and build it again), and leaves a CLI
// usable from anywhere and a package another project can install for the SDK.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLOW = process.env.FERRY_SLOW === '1';

/** The shell commands of the README's "Quick start" section, in order (one per ```sh block). */
function quickStart(readme: string): string[] {
  const start = readme.indexOf('\n## Quick start');
  assert.ok(start >= 0, 'README.md has a "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line with bash, as a user types it. */
function sh(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd, env, timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The environment of a user's shell: this process runs under `npm test` and `node --test`, whose variables
 * (npm_*, NODE_TEST_CONTEXT) would change what npm and node do in the child. npm_config_nodedir stays: it is
 * the machine's setting (scripts/test-all.sh sets it when npm has none) that lets node-gyp build offline.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const npmVar = /^npm_/i.test(k) && k !== 'npm_config_nodedir';
    if (npmVar || k === 'NODE_TEST_CONTEXT' || k === 'FERRY_SLOW' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, FERRY_DEBUG: '', ...extra };
}

const tail = (r: Run) => `exit ${r.code}\n--- stdout (end)\n${r.stdout.slice(-3000)}\n--- stderr (end)\n${r.stderr.slice(-3000)}`;

describe('README quick start: the test command', () => {
  it('has two commands, and the second is exactly what .ci/run runs', async () => {
    const cmds = quickStart(await readFile(join(ROOT, 'README.md'), 'utf8'));
    assert.equal(cmds.length, 2, `two commands, got:\n${cmds.join('\n---\n')}`);
    for (const c of cmds) assert.doesNotMatch(c, /\n/, 'each command is one line to paste');
    const ci = (await readFile(join(ROOT, '.ci/run'), 'utf8')).split('\n').map((l) => l.trim());
    assert.ok(ci.includes(cmds[1]!), `.ci/run runs the README's test command \`${cmds[1]}\``);
  });

  // A copy of the repository's scripting with a stand-in setup script and test script: shows what the
  // README's test command does in which order, in a second, without installing anything.
  it('installs and starts what the tests need (.ci/setup.d), then runs the tests with what setup exported', async () => {
    const cmds = quickStart(await readFile(join(ROOT, 'README.md'), 'utf8'));
    const dir = await mkdtemp(join(tmpdir(), 'ferry-testcmd-'));
    try {
      const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      const testScript = 'echo "tests ran with FERRY_SETUP_MARK=$FERRY_SETUP_MARK"';
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, scripts: { ...pkg.scripts, test: testScript } }));
      await mkdir(join(dir, 'scripts'));
      await writeFile(join(dir, 'scripts/test-all.sh'), await readFile(join(ROOT, 'scripts/test-all.sh')));
      await mkdir(join(dir, '.ci/setup.d'), { recursive: true });
      await writeFile(join(dir, '.ci/setup.d/50-mark.sh'), 'echo "setup ran"\nexport FERRY_SETUP_MARK=exported\n');
      // Installed already (as after the quick start): the lockfile is older than node_modules' copy of it.
      await writeFile(join(dir, 'package-lock.json'), '{}');
      await utimes(join(dir, 'package-lock.json'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
      await mkdir(join(dir, 'node_modules'));
      await writeFile(join(dir, 'node_modules/.package-lock.json'), '{}');
      await mkdir(join(dir, 'src/fuse/native/build/Release'), { recursive: true });
      await writeFile(join(dir, 'src/fuse/native/build/Release/ferry_fuse.node'), '');
      await mkdir(join(dir, 'src/sys/native/build/Release'), { recursive: true });
      await writeFile(join(dir, 'src/sys/native/build/Release/ferry_sys.node'), '');

      const r = await sh(cmds[1]!, dir, userEnv(), 60_000);
      assert.equal(r.code, 0, tail(r));
      const setupAt = r.stdout.indexOf('setup ran');
      const testsAt = r.stdout.indexOf('tests ran with FERRY_SETUP_MARK=exported');
      assert.ok(setupAt >= 0 && testsAt > setupAt, `setup first, then the tests with its exports:\n${tail(r)}`);

      // A setup script that fails stops the command before any test, naming the script.
      await writeFile(join(dir, '.ci/setup.d/40-broken.sh'), 'false\necho "went on after a failure"\n');
      const bad = await sh(cmds[1]!, dir, userEnv(), 60_000);
      assert.notEqual(bad.code, 0, tail(bad));
      assert.doesNotMatch(bad.stdout, /went on after a failure|tests ran/, tail(bad));
      assert.match(bad.stderr, /\.ci\/setup\.d\/40-broken\.sh failed/, tail(bad));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('README quick start: the first command without libfuse3 headers', () => {
  // `npm ci` runs this as the first half of `prepare`, and npm shows its output on the terminal.
  // A copy of src/fuse as a fresh clone has it (no build/), with pkg-config finding no fuse3.
  it('says in one line how to get mounts, and carries on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-nofuse-'));
    try {
      await cp(join(ROOT, 'src/fuse'), join(dir, 'src/fuse'), { recursive: true, filter: (src) => !/\/native\/build(\/|$)/.test(src) });
      const r = await sh('node src/fuse/native/build.mjs --optional', dir, userEnv({ PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' }), 60_000);
      assert.equal(r.code, 0, tail(r));
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, tail(r));
      assert.match(lines[0]!, /^ferry: FUSE addon not built: .*apt-get install -y fuse3 libfuse3-dev pkg-config.*npm run build:fuse/, tail(r));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('README quick start: the first command in a fresh clone', { skip: SLOW ? false : 'slow (clones the repository and runs npm ci): set FERRY_SLOW=1, as .ci/run does' }, () => {
  let dir = '';
  let clone = '';
  let metaUrl = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-quickstart-'));
    clone = join(dir, 'ferryfs');
    // What a user gets from `git clone`: the committed tree, nothing built, nothing installed.
    const r = await sh(`git clone --quiet ${JSON.stringify(ROOT)} ${JSON.stringify(clone)}`, dir, userEnv(), 120_000);
    assert.equal(r.code, 0, tail(r));
    metaUrl = `sqlite3://${clone}/ferry-data/meta.db`;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs, builds and runs the main job, never through npx', { timeout: 40 * 60_000 }, async (t) => {
    const [first] = quickStart(await readFile(join(clone, 'README.md'), 'utf8'));
    // npx would install the repository into its cache and run `prepare` again (minutes): fail if it is used.
    const noNpx = join(dir, 'no-npx');
    await mkdir(noNpx);
    await writeFile(join(noNpx, 'npx'), '#!/bin/sh\necho "npx was called: the quick start must run the built CLI" >&2\nexit 97\n');
    await chmod(join(noNpx, 'npx'), 0o755);
    const started = Date.now();
    const r = await sh(first!, clone, userEnv({ PATH: `${noNpx}:${process.env.PATH}` }), 35 * 60_000);
    t.diagnostic(`the first command took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.equal(r.code, 0, tail(r));
    // `ferry ls -l /src` lists every top-level entry of the repository's src/ ...
    for (const name of await readdir(join(clone, 'src'))) assert.ok(r.stdout.includes(` ${name}\n`), `ls lists ${name}\n${tail(r)}`);
    // ... and `ferry status` names the volume.
    assert.match(r.stdout, /demo/, tail(r));
  });

  it('runs the CLI from any directory through a symlink to ./ferry', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await symlink(join(clone, 'ferry'), join(bin, 'ferry'));
    const r = await sh(`ferry cat ${metaUrl} /src/cli/main.ts`, dir, userEnv({ PATH: `${bin}:${process.env.PATH}` }), 60_000);
    assert.equal(r.code, 0, tail(r));
    assert.equal(r.stdout, await readFile(join(clone, 'src/cli/main.ts'), 'utf8'));
  });

  it('another project installs the clone with npm and uses the SDK', { timeout: 10 * 60_000 }, async () => {
    const app = join(dir, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // npm links the clone and runs its `prepare` again: with everything up to date it rewrites nothing.
    const built = [join(clone, 'dist/src/cli/main.js'), join(clone, 'src/fuse/native/build/Release/ferry_fuse.node')].filter((f) => existsSync(f));
    const before = await Promise.all(built.map(async (f) => (await stat(f)).mtimeMs));
    const inst = await sh(`npm install --no-audit --no-fund ${JSON.stringify(clone)}`, app, userEnv(), 8 * 60_000);
    assert.equal(inst.code, 0, tail(inst));
    const afterInstall = await Promise.all(built.map(async (f) => (await stat(f)).mtimeMs));
    assert.deepEqual(afterInstall, before, `npm install of the clone rebuilt ${built.join(' and ')}\n${tail(inst)}`);
    const script = `import { Volume } from 'ferryfs';
const vol = await Volume.open(${JSON.stringify(metaUrl)});
process.stdout.write(await vol.readFile('/src/cli/main.ts', 'utf8'));
await vol.close();
`;
    await writeFile(join(app, 'read.mjs'), script);
    const r = await sh('node read.mjs', app, userEnv(), 60_000);
    assert.equal(r.code, 0, tail(r));
    assert.equal(r.stdout, await readFile(join(clone, 'src/cli/main.ts'), 'utf8'));
  });
});
