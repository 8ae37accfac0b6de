// ferry umount MOUNTPOINT: unmounts a FerryFS mount and waits for its daemon to finish flushing.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command, Parsed } from '../args.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const command: Command = {
  spec: {
    name: 'umount',
    summary: 'Unmount a volume mounted with ferry mount.',
    usage: 'MOUNTPOINT',
    description:
      'Runs fusermount3 -u and waits for a background mount daemon to exit; a --writeback mount exits once every staged\n' +
      'block is in the object store, so this can take a while (progress every 30 s; Ctrl-C stops waiting, not the uploads).\n' +
      'With --force a busy or dead mount is detached lazily and its FUSE connection aborted (files still open there fail\n' +
      'with ENOTCONN).',
    examples: ['ferry umount /mnt/ferry', 'ferry umount --force /mnt/ferry'],
    options: { force: { type: 'boolean', short: 'f', help: 'unmount even when busy or when the daemon is gone' } },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const mp = resolve(p.args[0]!);
    const { unmountFuse } = await import('../../fuse/teardown.js');
    const { pidFileFor } = await import('../../fuse/daemon.js');
    const pidFile = pidFileFor(mp);
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    const r = await unmountFuse(mp, { force: p.values.force === true });
    if (r === 'not-mounted') throw new Error(`${mp} is not mounted`);
    if (pid > 0) {
      // Unbounded: a write-back daemon is uploading what is staged, and "umount returned" should mean "in the store".
      const started = Date.now();
      for (let i = 1; alive(pid); i++) {
        await new Promise((res) => setTimeout(res, 100));
        if (i % 300 === 0) {
          const s = Math.round((Date.now() - started) / 1000);
          process.stderr.write(`ferry: unmounted ${mp}; waiting ${s} s for its daemon (pid ${pid}) to finish (write-back uploads? see its log)\n`);
        }
      }
    }
  },
};

export default command;
