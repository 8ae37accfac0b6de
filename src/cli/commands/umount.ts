// ferry umount MOUNTPOINT: unmounts a FerryFS mount and waits for its daemon to finish flushing.
import { existsSync, readFileSync, rmSync } from 'node:fs';
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
      'with ENOTCONN); where the connection cannot be aborted (no fusectl), umount returns once the mount is detached and\n' +
      'its daemon exits when the last file open there is closed.',
    examples: ['ferry umount /mnt/ferry', 'ferry umount --force /mnt/ferry'],
    options: { force: { type: 'boolean', short: 'f', help: 'unmount even when busy or when the daemon is gone' } },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const mp = resolve(p.args[0]!);
    const { unmountFuse } = await import('../../fuse/teardown.js');
    const { configFileFor, pidFileFor } = await import('../../fuse/daemon.js');
    const pidFile = pidFileFor(mp);
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    const writeback = usesWriteback(configFileFor(mp));
    const r = await unmountFuse(mp, { force: p.values.force === true });
    if (r === 'not-mounted') throw new Error(`${mp} is not mounted`);
    // A supervisor that was killed leaves its control socket behind (docs/upgrade.md).
    const { controlSocketFor } = await import('../../fuse/handover.js');
    if (!(pid > 0 && alive(pid))) rmSync(controlSocketFor(mp), { force: true });
    if (!(pid > 0)) return;
    if (r === 'lazy' && !writeback) {
      // Detached but not aborted (no fusectl): the daemon serves the files still open there until they are
      // closed, and has nothing else to finish; waiting for it would wait for those programs.
      for (let i = 0; i < 20 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.stderr.write(`ferry: detached ${mp}; its daemon (pid ${pid}) exits once the files still open there are closed\n`);
      return;
    }
    // Unbounded: a write-back daemon is uploading what is staged, and "umount returned" should mean "in the store".
    const started = Date.now();
    for (let i = 1; alive(pid); i++) {
      await sleep(100);
      if (i % 300 === 0) {
        const s = Math.round((Date.now() - started) / 1000);
        const why = writeback ? 'to upload the blocks its write-back staged' : 'to exit';
        process.stderr.write(`ferry: unmounted ${mp}; waiting ${s} s for its daemon (pid ${pid}) ${why} (see its log)\n`);
      }
    }
  },
};

/** Whether the mount's daemon stages writes (its config, written next to its pid file, says). */
function usesWriteback(configFile: string): boolean {
  try {
    return (JSON.parse(readFileSync(configFile, 'utf8')) as { cache?: { writeback?: unknown } }).cache?.writeback === true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

export default command;
