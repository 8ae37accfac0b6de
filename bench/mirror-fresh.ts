// One fresh process of bench/mirror.ts's fresh-process row: a new process opens the volume at argv[2] the way a
// script or a `ferry` command does (default options), creates the file argv[3] (open 'wx' + close) and prints
// the two times in milliseconds as JSON. Nothing is warm: no connection, no pool, no cache, no id batch.
import { Volume } from '../src/sdk/index.js';

const [url, path] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const v = await Volume.open(url);
const t1 = performance.now();
await (await v.open(path, 'wx')).close();
const t2 = performance.now();
await v.close();
process.stdout.write(`${JSON.stringify({ open: t1 - t0, create: t2 - t1 })}\n`);
