// ferry mount META-URL MOUNTPOINT: serves a volume through FUSE, in the foreground or as a daemon (-d).
import { applyFlags, applyMountOptions, clientFlags } from '../client-flags.js';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Command, type Parsed } from '../args.js';
import { requireVolume } from '../meta.js';

const command: Command = {
  spec: {
    name: 'mount',
    summary: 'Mount a volume as a POSIX file system through FUSE.',
    usage: 'META-URL MOUNTPOINT',
    description: [
      'Serves the volume at MOUNTPOINT (an existing directory) through FerryFS\'s libfuse3 addon. In the foreground',
      'it runs until unmounted or stopped with Ctrl-C/SIGTERM (open files are flushed first); with -d it returns once',
      'the mount answers and keeps running as a daemon logging to a file. Needs /dev/fuse and fusermount3 (Debian:',
      'fuse3). See docs/fuse.md for fstab and systemd.',
    ].join('\n'),
    examples: [
      'ferry mount sqlite3://ferry-data/meta.db /mnt/ferry',
      'ferry mount -d -o allow_other --attr-cache 5 sqlite3://ferry-data/meta.db /mnt/ferry',
      'ferry mount --subdir /projects/a sqlite3://ferry-data/meta.db /mnt/a',
    ],
    options: {
      background: { type: 'boolean', short: 'd', help: 'run in the background as a daemon (log file, pid file)' },
      options: {
        type: 'string',
        short: 'o',
        arg: 'OPTS',
        help: 'comma-separated mount options: FUSE ones (allow_other, ...) and any option below as name[=value] (cache-dir=/x,writeback)',
      },
      config: { type: 'string', arg: 'FILE', help: 'client config (JSON, as written next to a daemon\'s pid file); flags override it' },
      log: { type: 'string', arg: 'FILE', help: 'log file of a background mount (default /var/log/ferry/mount-*.log as root)' },
      ...clientFlags('mount', 'local', 'group'),
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    // Block uploads fsync and reads wait on the disk in libuv's thread pool: 4 threads (the default) let four
    // fsyncs stall every other file operation of the mount. Read when the pool first starts, i.e. after this.
    process.env.UV_THREADPOOL_SIZE ??= '16';
    const [metaUrl, mpArg] = p.args as [string, string];
    const mp = resolve(mpArg);
    const v = p.values;
    const { loadConfig } = await import('../../client/config.js');
    const cfg = typeof v.config === 'string' ? { ...(await loadConfig(resolve(v.config))), metaUrl } : { metaUrl };
    applyFlags(cfg, p, 'mount', 'local', 'group');
    const fuse = applyMountOptions(cfg, typeof v.options === 'string' ? [v.options] : []);
    if (fuse.length) cfg.mount = { ...cfg.mount, fuseOptions: [fuse.join(',')] };
    await requireVolume(metaUrl);
    const { loadAddon } = await import('../../fuse/addon.js');
    loadAddon(); // fails here, with what to install, before any daemon is started
    const { configFileFor, logFileFor, pidFileFor } = await import('../../fuse/daemon.js');
    if (v.background && !process.env.FERRY_MOUNT_DAEMON) return background(mp, typeof v.log === 'string' ? resolve(v.log) : logFileFor(mp));

    const { mountVolume } = await import('../../fuse/mount.js');
    const daemon = process.env.FERRY_MOUNT_DAEMON === '1';
    const stamp = () => new Date().toISOString();
    const log = (l: string) => process.stderr.write(`${daemon ? stamp() + ' ' : ''}${l}\n`);
    let m;
    try {
      m = await mountVolume(cfg, mp, { log });
    } catch (e) {
      process.send?.({ error: (e as Error).message });
      throw e;
    }
    const pidFile = pidFileFor(mp);
    const configFile = configFileFor(mp);
    if (daemon) {
      mkdirSync(dirname(pidFile), { recursive: true });
      writeFileSync(pidFile, `${process.pid}\n`);
      // The client config as this daemon runs it, for a process that takes the mount over (upgrade, CSI).
      const { saveConfig } = await import('../../client/config.js');
      await saveConfig(configFile, m.client.config).catch((e: Error) => log(`ferry: could not write ${configFile}: ${e.message}`));
    }
    log(`ferry: mounted volume ${m.format.name} at ${mp} (pid ${process.pid}); ready`);
    if (process.send) {
      process.send({ ready: true, pid: process.pid });
      process.disconnect?.();
    }
    const stop = (sig: string) => {
      log(`ferry: ${sig}: flushing and unmounting ${mp}`);
      m.unmount(true).catch((e) => log(`ferry: unmount: ${(e as Error).message}`));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => undefined);
    // `kill -USR1 PID` logs the cache and write-back counters (pending uploads...).
    const cache = m.client.cache;
    process.on('SIGUSR1', () => log(`ferry: ${cache?.summary() ?? 'no caches'}`));
    await m.done;
    if (daemon) {
      rmSync(pidFile, { force: true });
      rmSync(configFile, { force: true });
    }
    log(`ferry: ${mp} unmounted`);
  },
};

/** Starts this same command as a detached child and returns once it says the mount answers. */
async function background(mp: string, logFile: string): Promise<void> {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const argv = process.argv.slice(2).filter((a) => a !== '-d' && a !== '--background');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, FERRY_MOUNT_DAEMON: '1' },
  });
  const r = await new Promise<{ ready?: boolean; pid?: number; error?: string }>((res) => {
    const t = setTimeout(() => res({ error: `the mount did not answer within 60 s (see ${logFile})` }), 60_000);
    child.on('message', (msg: { ready?: boolean; error?: string }) => {
      clearTimeout(t);
      res(msg);
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      res({ error: `the mount daemon exited with code ${code} (see ${logFile})` });
    });
  });
  if (r.error) {
    child.kill('SIGTERM');
    throw new Error(r.error);
  }
  child.unref();
  child.channel?.unref();
  process.stderr.write(`ferry: mounted at ${mp} in the background (pid ${child.pid}, log ${logFile})\n`);
}

export default command;
