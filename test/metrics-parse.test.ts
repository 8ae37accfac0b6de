// The strict exposition-format parser behind `ferry stats` and the metrics tests: it reads what prom-client
// writes (labelled histograms keep each series' _count and _sum) and refuses malformed text by line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromText } from '../src/cli/prom-text.js';
import { enableMetrics } from '../src/object/metrics.js';

test('reads prom-client\'s own output: labelled histograms, counters, escapes', async () => {
  const m = await enableMetrics();
  m.fuse.observe('lookup', 0.001);
  m.fuse.observe('lookup', 0.003);
  m.fuse.observe('read', 0.5, true);
  m.s3Requests.inc({ operation: 'Put"Obj\\ect\n', status: '200' });
  const fams = parsePromText(await m.text());
  const h = fams.find((f) => f.name === 'ferry_fuse_op_duration_seconds')!;
  assert.equal(h.type, 'histogram');
  const count = (op: string) => h.samples.find((s) => s.name === 'ferry_fuse_op_duration_seconds_count' && s.labels.op === op)?.value;
  assert.equal(count('lookup'), 2);
  assert.equal(count('read'), 1);
  const sum = h.samples.find((s) => s.name === 'ferry_fuse_op_duration_seconds_sum' && s.labels.op === 'lookup')!.value;
  assert.ok(Math.abs(sum - 0.004) < 1e-9);
  assert.equal(h.samples.find((s) => s.labels.le === '+Inf' && s.labels.op === 'read')!.value, 1);
  const errors = fams.find((f) => f.name === 'ferry_fuse_op_errors_total')!;
  assert.deepEqual(errors.samples.map((s) => [s.labels.op, s.value]), [['read', 1]]);
  const s3 = fams.find((f) => f.name === 'ferry_gateway_requests_total')!;
  assert.equal(s3.samples[0]!.labels.operation, 'Put"Obj\\ect\n');
});

test('refuses malformed text, naming the line', () => {
  const bad: Array<[string, RegExp]> = [
    ['x{a="1"} notanumber\n', /line 1: 'notanumber' is not a number/],
    ['x{a="1} 1\n', /line 1: unterminated label value/],
    ['x{1a="1"} 1\n', /line 1: bad label/],
    ['x 1\ny 2\nx 3\n', /line 3: family 'x' appears again/],
    ['# TYPE x counter\n# TYPE x gauge\n', /line 2: TYPE of 'x'/],
    ['# TYPE h histogram\nh_bucket 1\n', /line 2: histogram bucket without 'le'/],
    ['x{a="1"} 1\nx{a="1"} 2\n', /line 2: series x\{a="1"\} twice/],
    ['x{a="1",a="2"} 1\n', /label 'a' twice/],
    ['x1\n', /expected a space before the value/],
    ['# TYPE x countr\n', /unknown type 'countr'/],
  ];
  for (const [text, re] of bad) assert.throws(() => parsePromText(text), re, text);
  assert.deepEqual(parsePromText('# a comment\nx 1 1700000000000\n')[0]!.samples, [{ name: 'x', labels: {}, value: 1 }]);
});

test('the Grafana dashboard and the README use only metric names FerryFS defines, and the README lists them all', async () => {
  const { readFile } = await import('node:fs/promises');
  const defs = await import('../src/client/metrics.js');
  const m = await enableMetrics();
  const defined = new Set([
    ...m.registry.getMetricsAsArray().map((x) => x.name).filter((n) => n.startsWith('ferry_')),
    ...(Object.values(defs) as unknown[]).filter((d): d is { name: string } => typeof d === 'object' && d !== null && 'name' in d).map((d) => d.name),
    'ferry_gateway_requests_in_flight',
  ]);
  const root = new URL('../../', import.meta.url);
  const base = (n: string) => n.replace(/_(bucket|count|sum)$/, '');
  const dashboard = await readFile(new URL('docs/grafana-ferryfs.json', root), 'utf8');
  JSON.parse(dashboard);
  const used = new Set([...dashboard.matchAll(/ferry_[a-z_]+/g)].map((x) => base(x[0])));
  for (const n of used) assert.ok(defined.has(n), `dashboard uses ${n}, which FerryFS does not define`);
  const readme = await readFile(new URL('README.md', root), 'utf8');
  for (const n of defined) assert.ok(readme.includes('`' + n + '`'), `README lists ${n}`);
});
