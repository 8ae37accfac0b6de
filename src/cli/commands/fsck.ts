// ferry fsck META-URL: checks a volume (see client/fsck.ts), repairs what is safe with --repair, prints a
// summary, and exits 1 while anything is wrong.
import { flag, parseCount, str, volumePath, type Command, type Parsed } from '../args.js';
import { Progress, out } from '../output.js';

const command: Command = {
  spec: {
    name: 'fsck',
    summary: 'check a volume for damaged metadata and missing or corrupt blocks; repair what is safe',
    usage: 'META-URL',
    description: [
      'Walks every inode, entry and chunk of the volume and reports:',
      '  entries naming inodes that do not exist, link counts that disagree with the entries, inodes that no',
      '  entry names (not open, not in the trash), usedSpace/totalInodes counters that disagree with the',
      '  inodes, blocks of referenced slices missing from the object store (one HEAD each) and, with',
      '  --check-blocks, blocks whose checksum fails (each block read).',
      'With --repair it fixes what can be fixed without losing anything: counters, link counts, entries that',
      'lead nowhere (removed), and orphan inodes (linked into /lost+found as #INODE). Missing or corrupt',
      'blocks cannot be repaired: their files are named. Exit code 0 when the volume is sound (or was repaired),',
      '1 while anything is wrong. Best run while no client writes.',
    ].join('\n'),
    examples: ['ferry fsck sqlite3://ferry-data/meta.db', 'ferry fsck --repair sqlite3://ferry-data/meta.db', 'ferry fsck --path /datasets --check-blocks sqlite3://ferry-data/meta.db'],
    options: {
      path: { type: 'string', arg: 'DIR', help: 'check only this subtree (counters and orphans are then skipped)' },
      repair: { type: 'boolean', help: 'fix counters, link counts, dangling entries and orphans' },
      'check-blocks': { type: 'boolean', help: 'read every block and verify its checksum (slow), not just HEAD it' },
      threads: { type: 'string', arg: 'N', help: 'object requests in flight at once (default 16)' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    const threads = str(p, 'threads') === undefined ? 16 : Math.max(1, parseCount('--threads', str(p, 'threads')!, 1024));
    const path = str(p, 'path') === undefined ? undefined : volumePath(str(p, 'path')!);
    const { requireVolume } = await import('../meta.js');
    await requireVolume(metaUrl);
    const [{ openClient }, { fsck, unresolved }] = await Promise.all([import('../../client/index.js'), import('../../client/fsck.js')]);
    const client = await openClient({ metaUrl, sessionLabel: 'ferry fsck', data: { backgroundJobs: false } });
    const bar = new Progress('fsck');
    let report;
    const temps: string[] = [];
    let tempsLeft = 0;
    try {
      report = await fsck(client.meta, client.store, {
        path,
        repair: flag(p, 'repair'),
        checkBlocks: flag(p, 'check-blocks'),
        threads,
        progress: (s) => bar.update(`${s.phase} ${s.done.toLocaleString('en-US')}`),
      });
      if (!path) {
        // A gateway killed during a PUT leaves its half-received object in its tmp directory: an inode and
        // the bytes committed so far, counted by the volume and shown by no bucket (its next start removes them).
        const [{ listDeadTemps, removeDeadTemps }, { TMP_DIR }, { rootContext }] = await Promise.all([
          import('../../gateway/temps.js'),
          import('../../gateway/paths.js'),
          import('../../meta/types.js'),
        ]);
        const root = client.view(rootContext());
        const dead = await listDeadTemps(root);
        const removed = flag(p, 'repair') && dead.length ? new Set(await removeDeadTemps(root)) : new Set<string>();
        for (const t of dead) {
          temps.push(
            `gateway-temp: ${TMP_DIR}/${t.name} (${t.length} bytes and an inode counted in usedSpace/totalInodes, in no bucket) ` +
              `belongs to a gateway that is gone [${removed.has(t.name) ? 'repaired' : 'repairable'}]`,
          );
          if (!removed.has(t.name)) tempsLeft++;
        }
      }
    } finally {
      bar.done();
      await client.close();
    }
    const lines: string[] = [...temps];
    for (const pr of report.problems) {
      const state = pr.repaired ? 'repaired' : pr.fix ? (flag(p, 'repair') ? 'NOT repaired (changed meanwhile)' : 'repairable') : 'cannot be repaired';
      lines.push(`${pr.kind}: ${pr.message} [${state}]`);
    }
    for (const n of report.notes) lines.push(`note: ${n}`);
    const remaining = unresolved(report).length + tempsLeft;
    const found = report.problems.length + temps.length;
    lines.push(
      `checked ${report.inodes} inodes, ${report.entries} entries, ${report.slices} slices, ${report.blocks} blocks` +
        (flag(p, 'check-blocks') ? ' (read)' : ''),
      found === 0 ? 'no problems found' : `${found} problem(s) found, ${found - remaining} repaired, ${remaining} remaining`,
    );
    await out(lines.join('\n') + '\n');
    if (remaining) {
      const fixable = (tempsLeft > 0 || unresolved(report).some((x) => x.fix)) && !flag(p, 'repair');
      throw new Error(`${remaining} problem(s) remain${fixable ? " (run 'ferry fsck --repair' to fix the repairable ones)" : ''}`);
    }
  },
};

export default command;
