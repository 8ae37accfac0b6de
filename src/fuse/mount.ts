// Serving a volume at a mount point: opens the volume as a client session (which heartbeats), mounts through
// the addon, waits until the mount answers, raises the kernel read-ahead, and tears down in order when the
// mount ends: every request answered, the session destroyed, open files flushed, the client session closed.
import { opendir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { errnoCode, fsErr } from '../errors.js';
import { accessView, openClient, type Client, type ClientConfig, type ClientRuntime } from '../client/index.js';
import { ROOT_INODE, TYPE_DIRECTORY, rootContext, type Context, type Format, type SessionOpenState } from '../meta/types.js';
import { loadAddon, type ConnParams, type InitRecord, type SessionHandle } from './addon.js';
import { FuseServer, type ServerState } from './server.js';
import { RootMap, resolveSubdir } from './subdir.js';
import { isFuse, lazyUnmount, mountAt, unmountFuse } from './teardown.js';

/** How this process serves the mount (not part of the client config: an fd is this process's own). */
export interface MountRuntime extends ClientRuntime {
  /**
   * Serve the FUSE connection on this open /dev/fuse descriptor, already mounted at the mount point by
   * whoever passed it (a process handing over its mount), instead of mounting.
   */
  fd?: number;
  /**
   * The connection's INIT was answered by an earlier process (a crash or a handover): replay it with these
   * parameters instead of waiting for one (the kernel sends INIT once per connection).
   */
  resume?: InitRecord;
  /** Prepare everything but serve only when start() is called (the process taking a mount over). */
  deferStart?: boolean;
}

/** What a serving process hands to the next one besides the connection (docs/upgrade.md). */
export interface HandoverState {
  server: ServerState;
  open: SessionOpenState;
  sid: number;
  /** Wall-clock time (ms) the old process stopped reading requests: the successor logs the pause. */
  stoppedAt: number;
  /** Keys of the listening sockets (--metrics) passed along with the state message, in the order of its descriptors. */
  listeners?: string[];
}

export interface Mounted {
  mountpoint: string;
  format: Format;
  client: Client;
  /** Resolves when the mount has ended and everything is closed. */
  done: Promise<void>;
  /** Flushes open files and unmounts (lazily with force when busy); `done` resolves after. */
  unmount(force?: boolean): Promise<void>;
  /** The kernel's INIT and the answer, once answered (what a successor replays). */
  initRecord(): InitRecord | null;
  /**
   * Stops reading requests, answers the ones in progress, commits buffered writes and returns what the next
   * process needs; the session and the mount stay (`done` resolves, nothing is unmounted or closed).
   */
  handOver(): Promise<HandoverState>;
  /** With deferStart: takes over the previous process's state and starts serving on the connection. */
  start(init: InitRecord, state?: HandoverState): void;
}

/** Splits `-o a,b=c` lists, keeping the ones FerryFS handles itself out of libfuse's way. */
export function fuseArgs(name: string, cfg: ClientConfig): string[] {
  const o = new Set<string>(['default_permissions']);
  for (const list of cfg.mount?.fuseOptions ?? []) for (const x of list.split(',')) if (x) o.add(x);
  if (cfg.readOnly) o.add('ro');
  o.add(`fsname=ferry:${name}`);
  o.add('subtype=ferryfs');
  return ['-o', [...o].join(',')];
}

/** A directory to mount on: a stale FUSE mount there (its daemon died) is cleaned up, a live one refused. */
export async function checkMountpoint(mp: string, nonempty: boolean, log: (line: string) => void): Promise<void> {
  const existing = await mountAt(mp);
  if (existing && isFuse(existing)) {
    // A mount whose daemon died answers ENOTCONN: clean it up. A live one is refused.
    const alive = await stat(mp).then(
      () => true,
      (e: NodeJS.ErrnoException) => e.code !== 'ENOTCONN',
    );
    if (alive) throw fsErr('EBUSY', `${mp} is already a FUSE mount (${existing.source}); unmount it first`);
    log(`cleaning up the stale mount at ${mp}`);
    await unmountFuse(mp, { force: true });
  }
  const st = await stat(mp).catch((e: NodeJS.ErrnoException) => {
    throw fsErr(errnoCode(e.code ?? 'ENOENT'), `mount point ${mp}: ${e.code === 'ENOENT' ? 'no such directory' : e.message}`);
  });
  if (!st.isDirectory()) throw fsErr('ENOTDIR', `mount point ${mp} is not a directory`);
  if (!nonempty && !(await isEmptyDir(mp))) throw fsErr('ENOTEMPTY', `mount point ${mp} is not empty (its files would be hidden): use -o nonempty to mount over them`);
}

async function isEmptyDir(dir: string): Promise<boolean> {
  const d = await opendir(dir);
  try {
    return (await d.read()) === null;
  } finally {
    await d.close();
  }
}

/** One line naming what libfuse refused: `-o bogus,x=1` -> unknown mount options 'bogus', 'x=1'. */
function sessionError(e: unknown): Error {
  const msg = (e as Error).message;
  const m = /unknown option\(s\): `(?:-o\s*)?([^']*)'/.exec(msg);
  if (!m) return fsErr('EIO', msg);
  const names = m[1]!.split(/[\s,]+/).filter((o) => o && o !== '-o');
  return fsErr('EINVAL', `unknown mount option${names.length === 1 ? '' : 's'} ${names.map((o) => `'${o}'`).join(', ')}`);
}

/** Throws (one line) when libfuse refuses the FUSE options of cfg; nothing is mounted. */
export function checkFuseOptions(cfg: ClientConfig): void {
  const addon = loadAddon();
  let s: SessionHandle;
  try {
    s = addon.session(fuseArgs('check', cfg), () => undefined, {});
  } catch (e) {
    throw sessionError(e);
  }
  addon.destroy(s);
}

export async function mountVolume(config: ClientConfig, mountpoint: string, rt: MountRuntime = {}): Promise<Mounted> {
  const addon = loadAddon();
  const log = rt.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const mp = resolve(mountpoint);
  // Given a connection, the mount there is ours to serve (and answers nothing until we do).
  if (rt.fd === undefined) await checkMountpoint(mp, config.mount?.nonempty === true, log);

  const attrTimeout = config.metaCache?.attrTimeout ?? 1;
  const entryTimeout = config.metaCache?.entryTimeout ?? 1;
  const client = await openClient(
    { ...config, sessionLabel: config.sessionLabel ?? `${hostname()}:${mp}`, role: config.role ?? 'mount', metaCache: { ...config.metaCache, attrTimeout, entryTimeout } },
    { log, adoptSession: rt.adoptSession, successor: rt.successor },
  );
  const { vfs, format } = client;
  let root: RootMap;
  let identity: Context | undefined;
  try {
    // With --token-file every request acts as the key, within its scope (vfs/scope.ts; the VFS enforces its limits).
    const access = await accessView(config, client.view(rootContext()));
    if (access.view.ctx.limit) {
      identity = access.view.ctx;
      // --subdir then names a directory of the key's own root.
      const r = config.mount?.subdir ? await access.view.resolve(config.mount.subdir) : { inode: access.view.root, attr: undefined };
      if (r.attr && r.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR', `--subdir ${config.mount!.subdir} is not a directory`);
      root = new RootMap(r.inode === ROOT_INODE ? undefined : r.inode);
    } else {
      // Checked before mounting: a missing subdir is one error and no mount.
      root = new RootMap(config.mount?.subdir ? await resolveSubdir(vfs, config.mount.subdir) : undefined);
    }
  } catch (e) {
    await client.close().catch(() => undefined);
    throw e;
  }

  const server = new FuseServer(vfs, addon, {
    attrTimeout,
    entryTimeout,
    dirEntryTimeout: config.metaCache?.dirEntryTimeout ?? entryTimeout,
    log,
    root,
    identity,
    kernelWriteback: config.mount?.kernelWritebackCache ?? false,
    metrics: client.metrics,
  });
  let ended!: () => void;
  const loopEnded = new Promise<void>((r) => (ended = r));
  server.onExit = ended;
  let session: SessionHandle;
  try {
    // A read-only mirror is read-only for the kernel too (`ro` in its mount flags).
    session = addon.session(fuseArgs(format.name, { ...config, readOnly: client.readOnly }), server.dispatch, {
      writeback: config.mount?.kernelWritebackCache ?? false,
      acl: format.acl === true,
    });
  } catch (e) {
    await client.close().catch(() => undefined);
    throw sessionError(e);
  }
  // Given the connection (a supervisor holds it): serve a clone of it, so that when this process dies the
  // kernel fails only the requests it was answering and keeps the rest for the next one.
  let served: number | undefined;
  const connect = (init?: InitRecord) => {
    if (rt.fd === undefined) return addon.mount(session, mp);
    served = addon.cloneFd(rt.fd);
    if (init) addon.resume(session, served, init.init, init.conn);
    else addon.start(session, served);
  };
  try {
    if (!rt.deferStart) connect(rt.resume);
  } catch (e) {
    addon.destroy(session);
    if (served !== undefined && !rt.resume) addon.closeFd(served);
    await client.close().catch(() => undefined);
    throw fsErr('EIO', (e as Error).message);
  }

  let handedOver = false;
  const done = (async () => {
    await loopEnded;
    await server.drained();
    addon.destroy(session);
    if (server.counts) log(server.stats());
    if (handedOver) await client.detach();
    else await client.close().catch((e: Error) => log(`closing the volume: ${e.message}`));
  })();

  const handOver = async (): Promise<HandoverState> => {
    if (handedOver) throw fsErr('EINVAL', 'this mount was handed over already');
    handedOver = true;
    // Committed once while still serving, so that after the stop only what arrived meanwhile is left to commit.
    await vfs.flushAll().catch(() => undefined);
    const t0 = performance.now();
    const stoppedAt = Date.now();
    addon.handOver(session);
    server.handOver();
    // Blocking lock waits go on in this process until granted (FuseServer.handOver); the rest is answered.
    await server.settled();
    const t1 = performance.now();
    if (server.lockWaits) log(`handing over: ${server.lockWaits} blocking lock waits go on in this process until granted`);
    // What the application wrote is committed now (staged uploads stay staged for the next process).
    await vfs.flushAll().catch((e) => log(`flushing open files for the handover: ${(e as Error).message}`));
    log(`handing over: requests in progress answered in ${(t1 - t0).toFixed(1)} ms, buffered writes committed in ${(performance.now() - t1).toFixed(1)} ms`);
    const state: HandoverState = { server: server.exportState(), open: client.meta.openState(), sid: client.sessionId, stoppedAt };
    ended();
    return state;
  };
  const start = (init: InitRecord, st?: HandoverState) => {
    if (st) {
      client.meta.restoreOpenState(st.open);
      server.adoptState(rootContext(), st.server);
    }
    connect(init);
  };

  const base = { mountpoint: mp, format, client, done, initRecord: () => addon.initRecord(session), handOver, start };
  const unmount = unmounter(mp, vfs, done, log);
  // Another process served this connection already: it answers now, nothing more to prepare.
  if (rt.fd !== undefined && (rt.resume || rt.deferStart)) return { ...base, unmount };

  // Ready only once the mount answers (an async stat: the libuv pool waits, this thread serves it).
  await stat(mp);
  const info = await mountAt(mp);
  if (info) {
    const kb = config.mount?.readAheadKb ?? 16384;
    await writeFile(`/sys/class/bdi/${info.major}:${info.minor}/read_ahead_kb`, String(kb)).catch((e: Error) =>
      log(`could not raise read-ahead (${e.message}); large sequential reads will be slower`),
    );
  }

  return { ...base, unmount };
}

function unmounter(mp: string, vfs: Client['vfs'], done: Promise<void>, log: (line: string) => void): (force?: boolean) => Promise<void> {
  let unmounting: Promise<void> | undefined;
  const unmount = (force = false): Promise<void> =>
    (unmounting ??= (async () => {
      await vfs.flushAll().catch((e) => log(`flushing open files: ${(e as Error).message}`));
      try {
        await unmountFuse(mp, { force: false });
      } catch (e) {
        if (!force) {
          unmounting = undefined;
          throw e;
        }
        log(`${(e as Error).message}; unmounting lazily: the mount ends when the last open file is closed`);
        if (!(await lazyUnmount(mp))) await unmountFuse(mp, { force: true }).catch((e2) => log((e2 as Error).message));
      }
      await done;
    })());
  return unmount;
}
