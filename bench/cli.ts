// npm run bench:cli — start-up cost: wall time of short `ferry` commands and of an SDK script that opens a
// volume and reads one file, on the embedded default (SQLite + file:// in a temp directory), side by side with
// the local-disk equivalent (`ls`, `stat`, `cp`, a node script reading a file). Median of N runs each, one
// table. A benchmark, never a test.
//
//   node dist/bench/cli.js [--runs 20] [--root DIR]
//
// --root: another built FerryFS tree (its dist/ is used), e.g. an older commit built in /tmp, to compare.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:cli: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/cli.js [--runs 20] [--root DIR]\n');
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv: string[]): { runs: number; root: string } {
  // This file is dist/bench/cli.js: the tree root is two levels up.
  const o = { runs: 20, root: resolve(fileURLToPath(new URL('../..', import.meta.url))) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--runs') {
      o.runs = Number(val());
      if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
    } else if (a === '--root') o.root = resolve(val());
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown option '${a}'`);
  }
  return o;
}

/** Runs a command once; fails loudly, since a failing command would time an error path. */
function run(cmd: string, args: string[], cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.error?.message}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time of `runs` runs; args(i) gives each run its arguments (put needs a new name each time). */
function time(runs: number, cwd: string, cmd: string, args: (i: number) => string[]): number {
  run(cmd, args(-1), cwd); // warm the page cache of node and the modules
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(run(cmd, args(i), cwd));
  return median(xs);
}

function main(): void {
  const { runs, root } = parseArgs(process.argv.slice(2));
  const cli = join(root, 'dist/src/cli/main.js');
  const sdk = pathToFileURL(join(root, 'dist/src/sdk/index.js')).href;
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-cli-'));
  const node = process.execPath;
  const ferry = (...a: string[]) => [cli, ...a];
  try {
    const meta = 'sqlite3://meta.db';
    run(node, ferry('format', meta, 'bench'), dir);
    writeFileSync(join(dir, 'small.txt'), 'hello, ferry\n');
    run(node, ferry('put', meta, 'small.txt', '/small.txt'), dir);
    const readSdk = join(dir, 'read-sdk.mjs');
    writeFileSync(
      readSdk,
      `import { Volume } from ${JSON.stringify(sdk)};\n` +
        `const v = await Volume.open(${JSON.stringify(meta)});\n` +
        `await v.readFile('/small.txt');\nawait v.close();\n`,
    );
    const readLocal = join(dir, 'read-local.mjs');
    writeFileSync(readLocal, `import { readFile } from 'node:fs/promises';\nawait readFile('small.txt');\n`);

    const rows: Array<[string, number, string, number | undefined]> = [];
    const row = (what: string, ms: number, local: string, localMs?: number) => {
      rows.push([what, ms, local, localMs]);
      process.stderr.write('.');
    };
    row('node -e 0 (Node itself)', time(runs, dir, node, () => ['-e', '0']), '', undefined);
    row('ferry --version', time(runs, dir, node, () => ferry('--version')), '', undefined);
    row('ferry ls /', time(runs, dir, node, () => ferry('ls', meta, '/')), 'ls .', time(runs, dir, 'ls', () => ['.']));
    row('ferry stat /small.txt', time(runs, dir, node, () => ferry('stat', meta, '/small.txt')), 'stat small.txt', time(runs, dir, 'stat', () => ['small.txt']));
    row(
      'ferry put small.txt (13 B)',
      time(runs, dir, node, (i) => ferry('put', meta, 'small.txt', `/put-${i + 1}.txt`)),
      'cp small.txt',
      time(runs, dir, 'cp', (i) => ['small.txt', `cp-${i + 1}.txt`]),
    );
    row('SDK: open volume, readFile, close', time(runs, dir, node, () => [readSdk]), 'node: readFile', time(runs, dir, node, () => [readLocal]));
    process.stderr.write('\n');

    const ms = (x: number | undefined) => (x === undefined ? '' : `${x.toFixed(0)} ms`);
    process.stdout.write(
      `bench:cli — ${root}, ${runs} runs each (median), node ${process.version}, ${cpus().length} cpus, ` +
        `load average ${loadavg()[0]!.toFixed(1)}, in ${dir}\n\n`,
    );
    process.stdout.write('| FerryFS (SQLite + file://) | median | local disk | median |\n|---|---:|---|---:|\n');
    for (const [what, t, local, tl] of rows) process.stdout.write(`| ${what} | ${ms(t)} | ${local} | ${ms(tl)} |\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
