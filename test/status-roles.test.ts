// `ferry status` names each session's role; records written before sessions carried one (no `role` field)
// are still read, their role told from the label every kind of process has always written.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { ferry, ok } from './helpers/cli.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

let t: TempVolume | undefined;
after(() => t?.cleanup());

test('old session records without a role are listed with the role their label implies', async () => {
  t = await tempVolume();
  const labels: Array<[Record<string, unknown>, string]> = [
    [{ mountPoint: 'web1:/mnt/ferry' }, 'mount'],
    [{ mountPoint: 's3-gateway' }, 'gateway'],
    [{ mountPoint: 'mirror replicator m1' }, 'replicator'],
    [{ mountPoint: 'mirror data copier', mirrorDataCopier: true }, 'copier'],
    [{ mountPoint: 'ferry cache serve g', cacheGroup: 'g', groupAddress: '127.0.0.1:1' }, 'cache-member'],
    [{ mountPoint: 'ferry gc' }, 'command'],
    [{ mountPoint: 'meta-server ferry://127.0.0.1:1', role: 'meta-server' }, 'meta-server'],
  ];
  const metas = [];
  for (const [info] of labels) {
    const m = await openMeta(t.url);
    await m.newSession(info);
    metas.push(m);
  }
  try {
    const doc = JSON.parse(ok(ferry(process.cwd(), ['status', '--json', t.url])).stdout) as { sessions: Array<{ mountPoint: string; role: string }> };
    for (const [info, role] of labels) assert.equal(doc.sessions.find((s) => s.mountPoint === info.mountPoint)?.role, role, String(info.mountPoint));
    assert.equal(doc.sessions.find((s) => s.mountPoint.startsWith('sdk:'))?.role, 'sdk');
    const text = ok(ferry(process.cwd(), ['status', t.url])).stdout;
    assert.match(text, /SID +ROLE +HOST +PID +MOUNT \/ LABEL/);
    for (const [info, role] of labels) assert.match(text, new RegExp(` ${role} .* ${String(info.mountPoint).replace(/[/.]/g, '\\$&')} `));
  } finally {
    for (const m of metas) await m.close();
  }
});
