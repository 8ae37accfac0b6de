// A throwaway volume for tests and benchmarks: SQLite metadata in a fresh temp dir and a file:// (or mem://)
// object store, formatted and opened through the SDK. cleanup() closes every Volume opened through it and
// removes the directory.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMeta } from '../../src/meta/index.js';
import type { Meta } from '../../src/meta/interface.js';
import { newFormat, type FormatSettings } from '../../src/meta/format.js';
import { Volume, volumeView, type VolumeOptions } from '../../src/sdk/volume.js';
import type { VFS } from '../../src/vfs/vfs.js';

/** The client under a Volume (internal: the package does not export it). */
export function vfsOf(v: Volume): VFS {
  return volumeView(v).vfs;
}

/** The metadata client under a Volume. */
export function metaOf(v: Volume): Meta {
  return volumeView(v).vfs.meta;
}

/** The block objects under a file:// store's `NAME/chunks/` (storeDir: its root): how many, and their bytes. */
export async function storeBlocks(storeDir: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        // A block the volume deletes meanwhile (a background job) is simply not counted.
        const st = await stat(p).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw e;
        });
        if (!st) continue;
        count++;
        bytes += st.size;
      }
    }
  };
  for (const vol of await readdir(storeDir).catch(() => [])) await walk(join(storeDir, vol, 'chunks'));
  return { count, bytes };
}

export interface TempVolumeOptions {
  /** Block size in bytes (default 4 MiB). */
  blockSize?: number;
  /** 'file' (default): objects under `<dir>/blocks`; 'mem': an in-memory store unique to this volume. */
  storage?: 'file' | 'mem';
  /** Options of the first Volume (see `open` for more clients). */
  volume?: VolumeOptions;
  /** Parent of the temp dir (default os.tmpdir()). */
  parent?: string;
  /** Settings of the format record (see newFormat). */
  format?: Partial<FormatSettings>;
}

export interface TempVolume {
  /** The first client, opened with `opts.volume`. */
  v: Volume;
  /** The metadata URL (sqlite3://...). */
  url: string;
  dir: string;
  /** Where a file:// store keeps its objects (undefined for mem://). */
  blocksDir?: string;
  name: string;
  /** Opens one more client on the same volume; closed by cleanup() unless closed before. */
  open(opts?: VolumeOptions): Promise<Volume>;
  cleanup(): Promise<void>;
}

export async function tempVolume(opts: TempVolumeOptions = {}): Promise<TempVolume> {
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'ferry-test-'));
  const url = `sqlite3://${join(dir, 'meta.db')}`;
  const blocksDir = opts.storage === 'mem' ? undefined : join(dir, 'blocks');
  const storage = blocksDir ? `file://${blocksDir}` : `mem://${randomUUID()}`;
  const name = 'vol';
  const m = await openMeta(url);
  try {
    await m.init(newFormat({ name, storage, blockSize: opts.blockSize ?? 4 << 20, trashDays: 0, ...opts.format }));
  } finally {
    await m.close();
  }
  const clients: Volume[] = [];
  const open = async (o?: VolumeOptions) => {
    const c = await Volume.open(url, o);
    clients.push(c);
    return c;
  };
  const v = await open(opts.volume);
  return {
    v,
    url,
    dir,
    blocksDir,
    name,
    open,
    async cleanup() {
      for (const c of clients.reverse()) await c.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
