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
      'A supervisor holds the FUSE connection: if the serving process dies it starts a new one on the same',
      'connection (open files keep working). Mounting on a directory a FerryFS daemon of the same volume serves',
      'hands the mount over to this version without unmounting; --upgrade MOUNTPOINT does that with the running',
      'configuration (docs/upgrade.md).',
    ].join('\n'),
    examples: [
      'ferry mount sqlite3://ferry-data/meta.db /mnt/ferry',
      'ferry mount -d -o allow_other --attr-cache 5 sqlite3://ferry-data/meta.db /mnt/ferry',
      'ferry mount --subdir /projects/a sqlite3://ferry-data/meta.db /mnt/a',
      'ferry mount --upgrade /mnt/ferry',
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
      upgrade: { type: 'boolean', help: 'hand the running mount at MOUNTPOINT over to this binary (implies -d; fails if nothing serves it)' },
      ...clientFlags('service', 'mount', 'local', 'group'),
    },
    minArgs: 1,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    // Block uploads fsync and reads wait on the disk in libuv's thread pool: 4 threads (the default) let four
    // fsyncs stall every other file operation of the mount. Read when the pool first starts, i.e. after this.
    process.env.UV_THREADPOOL_SIZE ??= '16';
    const v = p.values;
    const log = (l: string) => process.stderr.write(`${l}\n`);
    const { loadAddon } = await import('../../fuse/addon.js');
    const { Supervisor } = await import('../../fuse/supervisor.js');
    if (p.args.length === 1) {
      if (v.upgrade !== true) throw new UsageError('missing MOUNTPOINT (ferry mount META-URL MOUNTPOINT, or ferry mount --upgrade MOUNTPOINT)');
      const mp = resolve(p.args[0]!);
      loadAddon();
      if (!(await servedByFerry(mp))) throw new UsageError(`nothing serves ${mp}: --upgrade hands over a running mount`);
      // In the background, as the daemon it replaces.
      if (await daemonize({ ...p, values: { ...v, background: true } }, 'mount', mp)) return;
      return supervise(await Supervisor.takeOver(mp, { log }), log);
    }
    const [metaUrl, mpArg] = p.args as [string, string];
    const mp = resolve(mpArg);
    const { loadConfig } = await import('../../client/config.js');
    const cfg = typeof v.config === 'string' ? { ...(await loadConfig(resolve(v.config))), metaUrl } : { metaUrl };
    applyFlags(cfg, p, 'service', 'mount', 'local', 'group');
    const fuse = applyMountOptions(cfg, typeof v.options === 'string' ? [v.options] : []);
    if (fuse.length) cfg.mount = { ...cfg.mount, fuseOptions: [fuse.join(',')] };
    await requireVolume(metaUrl);
    loadAddon(); // fails here, with what to install, before any daemon is started
    const { checkFuseOptions } = await import('../../fuse/mount.js');
    try {
      checkFuseOptions(cfg);
    } catch (e) {
      throw new UsageError(`${describeError(e)} (see 'ferry mount --help')`);
    }
    // A FerryFS daemon serves the directory already: hand its mount over to this version.
    const handover = v.upgrade === true || (await servedByFerry(mp));
    if (handover && v.upgrade === true && !(await servedByFerry(mp))) throw new UsageError(`nothing serves ${mp}: --upgrade hands over a running mount`);
    const bg = handover ? { ...p, values: { ...v, background: v.background ?? true } } : p;
    if (await daemonize(bg, 'mount', mp)) return;
    const { openFormatted } = await import('../meta.js');
    const { meta, format } = await openFormatted(metaUrl);
    await meta.close();
    // A read-only mirror is mounted ro, so the kernel refuses writes before they reach the daemon.
    if (format.mirror?.of && !format.mirror.of.writable) cfg.readOnly = true;
    const s = handover ? await Supervisor.takeOver(mp, { log, config: cfg, volume: format.name }) : await Supervisor.mount(cfg, mp, { log, volume: format.name });
    return supervise(s, log);
  },
};

/**
 * True when a live FerryFS mount daemon (one answering on its control socket) serves mp. A socket file whose
 * daemon died with the whole mount (kill -9 of the tree, OOM) answers nothing: the mount is stale, and a
 * fresh mount cleans it up.
 */
async function servedByFerry(mp: string): Promise<boolean> {
  const { mountAt, isFuse } = await import('../../fuse/teardown.js');
  const { controlSocketFor } = await import('../../fuse/handover.js');
  const m = await mountAt(mp);
  if (!(m && isFuse(m) && m.source.startsWith('ferry:'))) return false;
  const path = controlSocketFor(mp);
  const { connect } = await import('node:net');
  const live = await new Promise<boolean>((res) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });
  if (!live) rmSync(path, { force: true });
  return live;
}

/** Runs the mount's supervisor until the mount ends or is handed over. */
async function supervise(s: import('../../fuse/supervisor.js').Supervisor, log: (l: string) => void): Promise<void> {
  const mp = s.mountpoint;
  log(`ferry: mounted volume ${s.volume} at ${mp} (pid ${process.pid}, serving pid ${s.servingPid}); ready`);
  if (isDaemon()) {
    // The client config as this daemon runs it, for a process that takes the mount over (CSI).
    const { saveConfig } = await import('../../client/config.js');
    await saveConfig(configFileFor(mp), s.clientConfig).catch((e: Error) => log(`ferry: could not write ${configFileFor(mp)}: ${e.message}`));
  }
  await daemonReady(`mounted at ${mp}`);
  // `kill -USR1 PID` logs the serving process's cache and write-back counters.
  process.on('SIGUSR1', () => s.signal('SIGUSR1'));
  const stop = (sig: string) => {
    log(`ferry: ${sig}: flushing and unmounting ${mp}`);
    s.unmount(true);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => undefined);
  await s.done;
  if (!s.handedOver) {
    rmSync(configFileFor(mp), { force: true });
    rmSync(metricsFileFor(mp), { force: true });
    log(`ferry: ${mp} unmounted`);
  }
  // The IPC channels and the control socket are closed: nothing keeps the process, but say so.
  process.exit(0);
}

export default command;
