// ferry mount META-URL MOUNTPOINT: serves a volume through FUSE, in the foreground or as a daemon (-d).
import { applyFlags, applyMountOptions, clientFlags } from '../client-flags.js';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, type Command, type Parsed } from '../args.js';
import { DAEMON_FLAGS, daemonReady, daemonize, isDaemon } from '../daemon.js';
import { requireVolume } from '../meta.js';
import { describeError } from '../output.js';
import { configFileFor, metricsFileFor } from '../../fuse/daemon.js';

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
      background: DAEMON_FLAGS.background!,
      options: {
        type: 'string',
        short: 'o',
        arg: 'OPTS',
        commaList: true,
        help: 'comma-separated mount options (may be given more than once): FUSE ones (allow_other, ...) and any option below as name[=value] (cache-dir=/x,writeback)',
      },
      config: { type: 'string', arg: 'FILE', help: 'client config (JSON, as written next to a daemon\'s pid file); flags override it' },
      log: DAEMON_FLAGS.log!,
      ...clientFlags('service', 'mount', 'local', 'group'),
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
    applyFlags(cfg, p, 'service', 'mount', 'local', 'group');
    const fuse = applyMountOptions(cfg, typeof v.options === 'string' ? [v.options] : []);
    if (fuse.length) cfg.mount = { ...cfg.mount, fuseOptions: [fuse.join(',')] };
    await requireVolume(metaUrl);
    const { loadAddon } = await import('../../fuse/addon.js');
    loadAddon(); // fails here, with what to install, before any daemon is started
    const { checkFuseOptions, mountVolume } = await import('../../fuse/mount.js');
    try {
      checkFuseOptions(cfg);
    } catch (e) {
      throw new UsageError(`${describeError(e)} (see 'ferry mount --help')`);
    }
    if (await daemonize(p, 'mount', mp)) return;

    const log = (l: string) => process.stderr.write(`${l}\n`);
    const m = await mountVolume(cfg, mp, { log });
    const configFile = configFileFor(mp);
    if (isDaemon()) {
      // The client config as this daemon runs it, for a process that takes the mount over (upgrade, CSI).
      const { saveConfig } = await import('../../client/config.js');
      await saveConfig(configFile, m.client.config).catch((e: Error) => log(`ferry: could not write ${configFile}: ${e.message}`));
    }
    const metricsFile = metricsFileFor(mp);
    if (m.client.metricsAddress) {
      // For `ferry stats MOUNTPOINT`: the mount's metrics address (also in its session record).
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { dirname } = await import('node:path');
      await mkdir(dirname(metricsFile), { recursive: true })
        .then(() => writeFile(metricsFile, JSON.stringify({ pid: process.pid, metrics: m.client.metricsAddress, sid: m.client.sessionId }) + '\n'))
        .catch((e: Error) => log(`ferry: could not write ${metricsFile}: ${e.message}`));
      log(`ferry: metrics at http://${m.client.metricsAddress}/metrics`);
    }
    log(`ferry: mounted volume ${m.format.name} at ${mp} (pid ${process.pid}); ready`);
    await daemonReady(`mounted at ${mp}`);
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
    if (isDaemon()) rmSync(configFile, { force: true });
    if (m.client.metricsAddress) rmSync(metricsFile, { force: true });
    log(`ferry: ${mp} unmounted`);
  },
};

export default command;
