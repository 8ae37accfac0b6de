// Serving a volume at a mount point: opens the volume as a client session (which heartbeats), mounts through
// the addon, waits until the mount answers, raises the kernel read-ahead, and tears down in order when the
// mount ends: every request answered, the session destroyed, open files flushed, the client session closed.
import { stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { errnoCode, fsErr } from '../errors.js';
import { MirrorMeta, openVolumeMeta } from '../mirror/index.js';
import '../object/index.js'; // registers the object store schemes
import { rootContext, type Format } from '../meta/types.js';
import { openChunkStore, type StorageOptions } from '../vfs/storage.js';
import { VFS } from '../vfs/vfs.js';
import { loadAddon, type SessionHandle } from './addon.js';
import { FuseServer } from './server.js';
import { RootMap, resolveSubdir } from './subdir.js';
import { isFuse, lazyUnmount, mountAt, unmountFuse } from './teardown.js';

export interface MountOptions {
  readOnly?: boolean;
  /** Seconds the kernel and the VFS cache attributes / entries (default 1). */
  attrCache?: number;
  entryCache?: number;
  dirEntryCache?: number;
  /** Extra -o options passed to the kernel/libfuse (allow_other, ...). */
  fuseOptions?: string[];
  /** The kernel's writeback cache (FUSE_CAP_WRITEBACK_CACHE); client write-back is storage.writeback. */
  writeback?: boolean;
  /** KiB of kernel read-ahead for the mount's bdi (default 16384). */
  readAheadKb?: number;
  log?: (line: string) => void;
  /** A directory of the volume served as the mount's root (it must exist). */
  subdir?: string;
  /** Caches and object store options (see docs/cache.md). */
  storage?: StorageOptions;
}

export interface Mounted {
  mountpoint: string;
  format: Format;
  vfs: VFS;
  /** Resolves when the mount has ended and everything is closed. */
  done: Promise<void>;
  /** Flushes open files and unmounts (lazily with force when busy); `done` resolves after. */
  unmount(force?: boolean): Promise<void>;
}

/** Splits `-o a,b=c` lists, keeping the ones FerryFS handles itself out of libfuse's way. */
export function fuseArgs(name: string, opts: MountOptions): string[] {
  const o = new Set<string>(['default_permissions']);
  for (const list of opts.fuseOptions ?? []) for (const x of list.split(',')) if (x) o.add(x);
  if (opts.readOnly) o.add('ro');
  o.add(`fsname=ferry:${name}`);
  o.add('subtype=ferryfs');
  return ['-o', [...o].join(',')];
}

export async function mountVolume(metaUrl: string, mountpoint: string, opts: MountOptions = {}): Promise<Mounted> {
  const addon = loadAddon();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const mp = resolve(mountpoint);
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

  const attrTimeout = opts.attrCache ?? 1;
  const entryTimeout = opts.entryCache ?? 1;
  const meta = await openVolumeMeta(metaUrl, {});
  let vfs!: VFS; // unset in the catch below when opening failed before it
  let format: Format;
  let root!: RootMap;
  try {
    format = await meta.load();
    const store = await openChunkStore(format, { groupMetaUrl: metaUrl, log, ...opts.storage });
    await meta.newSession({ mountPoint: `${hostname()}:${mp}` });
    // A read-only mirror refuses writes before any block is uploaded (as the SDK does).
    const readOnly = opts.readOnly || (meta instanceof MirrorMeta && !meta.writable);
    vfs = new VFS(meta, store, format, { attrTimeout, entryTimeout, readOnly });
    // Checked before mounting: a missing subdir is one error and no mount.
    root = new RootMap(opts.subdir ? await resolveSubdir(vfs, opts.subdir) : undefined);
  } catch (e) {
    if (vfs) await vfs.close(rootContext()).catch(() => undefined);
    else await meta.close().catch(() => undefined);
    throw e;
  }

  const server = new FuseServer(vfs, addon, {
    attrTimeout,
    entryTimeout,
    dirEntryTimeout: opts.dirEntryCache ?? entryTimeout,
    log,
    root,
  });
  let ended!: () => void;
  const loopEnded = new Promise<void>((r) => (ended = r));
  server.onExit = ended;
  let session: SessionHandle;
  try {
    session = addon.mount(mp, fuseArgs(format.name, opts), server.dispatch, { writeback: opts.writeback ?? false });
  } catch (e) {
    await vfs.close(rootContext()).catch(() => undefined);
    throw fsErr('EIO', (e as Error).message);
  }

  const done = (async () => {
    await loopEnded;
    await server.drained();
    addon.destroy(session);
    if (server.counts) log(server.stats());
    await vfs.close(rootContext()).catch((e) => log(`closing the volume: ${(e as Error).message}`));
  })();

  // Ready only once the mount answers (an async stat: the libuv pool waits, this thread serves it).
  await stat(mp);
  const info = await mountAt(mp);
  if (info) {
    const kb = opts.readAheadKb ?? 16384;
    await writeFile(`/sys/class/bdi/${info.major}:${info.minor}/read_ahead_kb`, String(kb)).catch((e: Error) =>
      log(`could not raise read-ahead (${e.message}); large sequential reads will be slower`),
    );
  }

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

  return { mountpoint: mp, format, vfs, done, unmount };
}
