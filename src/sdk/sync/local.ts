// A local directory as a sync endpoint: node:fs, files written under a temporary name and renamed into place.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { FsError } from '../../errors.js';
import { registerEndpointKind, type Endpoint, type FileAttrs, type SyncEntry } from './endpoint.js';
import { sortedWalk } from './walk.js';

// Times are compared in whole milliseconds. Node sets and reads local times through a double of seconds, so
// 07.123 s comes back as 07.122999906: rounding (not truncating) gives back the millisecond that was set.
function entryOf(key: string, st: import('node:fs').Stats, target?: string): SyncEntry {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  return { key: type === 'dir' ? `${key}/` : key, type, size: type === 'file' ? st.size : 0, mtime: Math.round(st.mtimeMs), mode: st.mode & 0o7777, target, mtimeExact: true };
}

export class LocalEndpoint implements Endpoint {
  readonly kind = 'local';
  readonly hasDirs = true;
  readonly hasLinks = true;

  constructor(readonly root: string) {}

  get label(): string {
    return this.root;
  }

  private path(key: string): string {
    return join(this.root, key);
  }

  list(skipDir: (key: string) => boolean): AsyncIterable<SyncEntry> {
    return sortedWalk<string>(
      this.root,
      async (dirKey, dir) => {
        const out: Array<{ entry: SyncEntry; dir?: string }> = [];
        const names = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT' && dirKey === '') return []; // a destination a dry run did not create
          throw e;
        });
        for (const d of names) {
          // Sockets, FIFOs and devices are not synced (as juicefs sync and rsync without -D).
          if (!d.isFile() && !d.isDirectory() && !d.isSymbolicLink()) continue;
          const p = join(dir, d.name);
          const st = await fs.lstat(p).catch((e: NodeJS.ErrnoException) => {
            if (e.code === 'ENOENT') return undefined; // removed while we walk
            throw e;
          });
          if (!st) continue;
          const target = st.isSymbolicLink() ? await fs.readlink(p) : undefined;
          out.push({ entry: entryOf(dirKey + d.name, st, target), dir: st.isDirectory() ? p : undefined });
        }
        return out;
      },
      skipDir,
    );
  }

  async stat(key: string): Promise<SyncEntry | undefined> {
    const p = this.path(key);
    const st = await fs.lstat(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!st) return undefined;
    return entryOf(key.replace(/\/$/, ''), st, st.isSymbolicLink() ? await fs.readlink(p) : undefined);
  }

  async read(key: string): Promise<{ body: Readable }> {
    const fh = await fs.open(this.path(key), 'r');
    return { body: fh.createReadStream() };
  }

  async write(key: string, body: Readable, attrs: FileAttrs): Promise<void> {
    const p = this.path(key);
    await fs.mkdir(dirname(p), { recursive: true });
    // A reader never sees half a file, and a failed copy leaves the old one.
    const tmp = join(dirname(p), `.${key.slice(key.lastIndexOf('/') + 1)}.ferry-sync-${randomBytes(4).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(tmp, { mode: (attrs.mode ?? 0o644) & 0o7777 }));
      if (attrs.mode !== undefined) await fs.chmod(tmp, attrs.mode & 0o7777);
      await fs.utimes(tmp, new Date(attrs.mtime), new Date(attrs.mtime));
      await fs.rename(tmp, p);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  async mkdir(key: string, mode?: number): Promise<void> {
    await fs.mkdir(this.path(key), { recursive: true, mode: mode ?? 0o777 });
  }

  async symlink(key: string, target: string, mtime: number): Promise<void> {
    const p = this.path(key);
    await fs.mkdir(dirname(p), { recursive: true });
    await fs.rm(p, { force: true });
    await fs.symlink(target, p);
    await fs.lutimes(p, new Date(mtime), new Date(mtime));
  }

  async delete(entry: SyncEntry): Promise<boolean> {
    const p = this.path(entry.key);
    if (entry.type !== 'dir') {
      await fs.rm(p, { force: true });
      return true;
    }
    return fs.rmdir(p).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOTEMPTY' || e.code === 'EEXIST') return false;
        if (e.code === 'ENOENT') return true;
        throw e;
      },
    );
  }

  async setMtime(key: string, mtime: number): Promise<void> {
    await fs.utimes(this.path(key), new Date(mtime), new Date(mtime));
  }

  async close(): Promise<void> {}
}

registerEndpointKind('local', {
  // Whatever is no URL (a plain path) or a file:// URL.
  claims: (raw) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || /^file:\/\//i.test(raw),
  async open(raw, role, shared) {
    const root = /^file:\/\//i.test(raw) ? fileURLToPath(raw) : resolve(raw);
    const st = await fs.stat(root).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (st && !st.isDirectory()) throw new FsError('ENOTDIR', { message: `sync ${role} ${root} is not a directory` });
    if (!st) {
      if (role === 'source') throw new FsError('ENOENT', { message: `sync source ${root} does not exist` });
      if (!shared.get('dryRun')) await fs.mkdir(root, { recursive: true });
    }
    return new LocalEndpoint(root);
  },
});
