// A running SDK client in a process of its own: `node sdk-child.js META-URL` opens the volume, then for each
// line `mkdir NAME` on stdin makes the directory and answers one line, `ok` or `err MESSAGE`. Tests use it
// for a client that lives across a change (a rotated service secret) without being restarted.
import { createInterface } from 'node:readline';
import { Volume } from '../../src/sdk/index.js';

const vol = await Volume.open(process.argv[2]!);
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ');
  try {
    if (cmd !== 'mkdir' || !arg) throw new Error(`unknown request ${line}`);
    await vol.mkdir(arg);
    process.stdout.write('ok\n');
  } catch (e) {
    process.stdout.write(`err ${(e as Error).message.split('\n')[0]}\n`);
  }
}
await vol.close();
