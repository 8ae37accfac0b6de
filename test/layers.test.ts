// The layering of src/ as docs/DEVELOPING.md lists it: each folder imports only from folders of a lower rank
// (doors of one rank never import each other), and the module graph has no cycles.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Lowest first; equal ranks are siblings that must not import each other. */
export const LAYERS: Record<string, number> = {
  'errors.ts': 0,
  'version.ts': 0,
  sys: 1,
  object: 1,
  meta: 2,
  mirror: 3,
  chunk: 4,
  cache: 5,
  vfs: 6,
  client: 7,
  sdk: 8,
  fuse: 8,
  gateway: 8,
  webhdfs: 8,
  csi: 8,
  dashboard: 8,
  cli: 9,
};

/** Known exceptions being removed: `from -> to` folder pairs. */
const TOLERATED = new Set<string>([]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'native' || n === 'node_modules' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  const top = relative(SRC, file).split('/')[0]!;
  if (!(top in LAYERS)) throw new Error(`src/${top} is not in the layer list (add it here and to docs/DEVELOPING.md)`);
  return top;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

test('every import in src/ goes down the layer list', () => {
  const wrong: string[] = [];
  for (const f of files(SRC)) {
    const from = layerOf(f);
    for (const target of importsOf(f)) {
      const to = layerOf(target);
      if (to !== from && LAYERS[to]! >= LAYERS[from]! && !TOLERATED.has(`${from} -> ${to}`)) wrong.push(`${relative(SRC, f)} imports ${relative(SRC, target)} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the layer list is the one docs/DEVELOPING.md shows', () => {
  const doc = readFileSync(resolve(SRC, '../docs/DEVELOPING.md'), 'utf8');
  for (const name of Object.keys(LAYERS)) assert.ok(doc.includes(`src/${name}`), `docs/DEVELOPING.md lists src/${name}`);
});

test('no import cycles between folders', () => {
  const edges = new Map<string, Set<string>>();
  for (const f of files(SRC)) {
    const from = layerOf(f);
    for (const t of importsOf(f)) {
      const to = layerOf(t);
      if (to !== from) (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
    }
  }
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') assert.fail(`import cycle: ${[...path, n].join(' -> ')}`);
    state.set(n, 'open');
    for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of edges.keys()) visit(n, []);
});
