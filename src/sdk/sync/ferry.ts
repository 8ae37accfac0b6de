// A directory of a FerryFS volume (`META-URL:/PATH`) as a sync endpoint, through the SDK's Volume (one client
// session per volume, shared by both sides when they are on the same one, which then clone instead of copying).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FsError } from '../../errors.js';
import { metaSchemes } from '../../meta/schemes.js';
import { SET_MODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Attr } from '../../meta/types.js';
import { toTimeAttrs } from '../times.js';
import { Volume, volumeView } from '../volume.js';
import { msOf, registerEndpointKind, type Endpoint, type FileAttrs, type SharedOpen, type SyncEntry } from './endpoint.js';
import { sortedWalk } from './walk.js';

/**
 * `sqlite3://data/meta.db:/datasets` -> the metadata URL and the path in the volume ('/' when none is given).
 * The path starts at the last ':/' after the scheme's '://', so ports and passwords in the URL stay in it.
 */
export function parseFerryLocation(raw: string): { metaUrl: string; path: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  if (!m || !metaSchemes().includes(m[1]!.toLowerCase())) return undefined;
  const at = raw.lastIndexOf(':/');
  if (at < m[0].length) return { metaUrl: raw, path: '/' };
  const path = `/${raw.slice(at + 2)}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return { metaUrl: raw.slice(0, at), path };
}

function typeOf(attr: Attr): SyncEntry['type'] | undefined {
  return attr.type === TYPE_DIRECTORY ? 'dir' : attr.type === TYPE_FILE ? 'file' : attr.type === TYPE_SYMLINK ? 'symlink' : undefined;
}

interface SharedVolume {
  vol: Volume;
  users: number;
}

export class FerryEndpoint implements Endpoint {
  readonly kind = 'ferry';
  readonly hasDirs = true;
  readonly hasLinks = true;

  constructor(
    readonly vol: Volume,
    readonly volumeKey: string,
    readonly root: string,
    readonly label: string,
    private readonly release: () => Promise<void>,
  ) {}

  private path(key: string): string {
    const k = key.replace(/\/$/, '');
    if (!k) return this.root;
    return this.root === '/' ? `/${k}` : `${this.root}/${k}`;
  }

  list(skipDir: (key: string) => boolean): AsyncIterable<SyncEntry> {
    const view = volumeView(this.vol);
    const self = this;
    return (async function* () {
      const root = await view.resolve(self.root, true).catch((e: unknown) => {
        if (e instanceof FsError && e.code === 'ENOENT') return undefined; // a destination a dry run did not create
        throw e;
      });
      if (!root) return;
      yield* sortedWalk<number>(
        root.inode,
        async (dirKey, ino) => {
          const out: Array<{ entry: SyncEntry; dir?: number }> = [];
          for await (const e of view.entries(ino, true)) {
            const type = typeOf(e.attr);
            if (!type || e.name === '.' || e.name === '..') continue;
            const key = dirKey + e.name + (type === 'dir' ? '/' : '');
            const target = type === 'symlink' ? await view.readlink(e.inode) : undefined;
            out.push({ entry: self.entryOf(key, type, e.attr, target), dir: type === 'dir' ? e.inode : undefined });
          }
          return out;
        },
        skipDir,
      );
    })();
  }

  private entryOf(key: string, type: SyncEntry['type'], a: Attr, target?: string): SyncEntry {
    return { key, type, size: type === 'file' ? a.length : 0, mtime: msOf(a.mtime, a.mtimensec), mode: a.mode & 0o7777, target, mtimeExact: true };
  }

  async stat(key: string): Promise<SyncEntry | undefined> {
    const view = volumeView(this.vol);
    const r = await view.resolve(this.path(key), false).catch((e: unknown) => {
      if (e instanceof FsError && e.code === 'ENOENT') return undefined;
      throw e;
    });
    const type = r && typeOf(r.attr);
    if (!r || !type) return undefined;
    return this.entryOf(key, type, r.attr, type === 'symlink' ? await view.readlink(r.inode) : undefined);
  }

  async read(key: string): Promise<{ body: Readable }> {
    const fh = await this.vol.open(this.path(key), 'r');
    return { body: fh.createReadStream() };
  }

  private tmpFor(key: string): string {
    const p = this.path(key);
    const slash = p.lastIndexOf('/');
    return `${p.slice(0, slash)}/.${p.slice(slash + 1)}.ferry-sync-${randomBytes(4).toString('hex')}`;
  }

  private async parentOf(key: string): Promise<void> {
    const p = this.path(key);
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    if (parent !== this.lastParent) {
      await this.vol.mkdir(parent, { recursive: true });
      this.lastParent = parent;
    }
  }
  private lastParent?: string;

  /** Writes under a temporary name, sets mode and time, renames into place: readers see the old or the new file. */
  private async replace(key: string, fill: (tmp: string) => Promise<void>, attrs?: FileAttrs): Promise<void> {
    await this.parentOf(key);
    const tmp = this.tmpFor(key);
    try {
      await fill(tmp);
      if (attrs?.mode !== undefined) await this.vol.chmod(tmp, attrs.mode & 0o7777);
      if (attrs) await this.vol.utimes(tmp, new Date(attrs.mtime), new Date(attrs.mtime));
      await this.vol.rename(tmp, this.path(key));
    } catch (e) {
      await this.vol.rm(tmp, { force: true, skipTrash: true }).catch(() => undefined);
      // Its blocks go now, not at some client's next background job (a Ctrl-C exits right after).
      await this.vol.settle().catch(() => undefined);
      throw e;
    }
  }

  async write(key: string, body: Readable, attrs: FileAttrs): Promise<void> {
    await this.replace(key, async (tmp) => {
      const fh = await this.vol.open(tmp, 'wx', (attrs.mode ?? 0o644) & 0o7777);
      try {
        // The stream's end flushes the data (its slices committed); then mode and times go in one setattr,
        // which the close that follows does not change.
        await pipeline(body, fh.createWriteStream({ autoClose: false }));
        const { set, attr } = toTimeAttrs(new Date(attrs.mtime), new Date(attrs.mtime));
        const withMode = attrs.mode !== undefined ? { set: set | SET_MODE, attr: { ...attr, mode: attrs.mode & 0o7777 } } : { set, attr };
        await volumeView(this.vol).setattr(fh.ino, withMode.set, withMode.attr);
      } finally {
        await fh.close();
      }
    });
  }

  async mkdir(key: string, mode?: number): Promise<void> {
    await this.vol.mkdir(this.path(key), { recursive: true, mode: mode ?? 0o777 });
  }

  async symlink(key: string, target: string, mtime: number): Promise<void> {
    await this.parentOf(key);
    await this.vol.rm(this.path(key), { force: true });
    await this.vol.symlink(target, this.path(key));
    void mtime; // a symlink's own time is not settable through the SDK (utimes follows the link)
  }

  async delete(entry: SyncEntry): Promise<boolean> {
    if (entry.type !== 'dir') {
      await this.vol.rm(this.path(entry.key), { force: true });
      return true;
    }
    return this.vol.rmdir(this.path(entry.key)).then(
      () => true,
      (e: unknown) => {
        if (e instanceof FsError && e.code === 'ENOTEMPTY') return false;
        if (e instanceof FsError && e.code === 'ENOENT') return true;
        throw e;
      },
    );
  }

  async setMtime(key: string, mtime: number): Promise<void> {
    await this.vol.utimes(this.path(key), new Date(mtime), new Date(mtime));
  }

  /** On one volume a copy is a clone: metadata only, the data shared (as ferry clone --preserve). */
  async cloneFrom(src: Endpoint, key: string): Promise<boolean> {
    if (!(src instanceof FerryEndpoint) || src.volumeKey !== this.volumeKey) return false;
    await this.replace(key, (tmp) => this.vol.clone(src.path(key), tmp, { preserve: true }));
    return true;
  }

  async close(): Promise<void> {
    await this.release();
  }
}

registerEndpointKind('ferry', {
  claims: (raw) => parseFerryLocation(raw) !== undefined,
  async open(raw, role, shared: SharedOpen) {
    const { metaUrl, path } = parseFerryLocation(raw)!;
    const key = `ferry:${metaUrl}`;
    let s = shared.get(key) as SharedVolume | undefined;
    if (!s) {
      s = { vol: await Volume.open(metaUrl, { mountPoint: 'ferry sync' }), users: 0 };
      shared.set(key, s);
    }
    s.users++;
    const held = s;
    const release = async () => {
      if (--held.users === 0) {
        shared.delete(key);
        await held.vol.close();
      }
    };
    try {
      const st = await held.vol.stat(path).catch((e: unknown) => {
        if (e instanceof FsError && e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (st && !st.isDirectory()) throw new FsError('ENOTDIR', { message: `sync ${role} ${path} in ${metaUrl} is not a directory` });
      if (!st) {
        if (role === 'source') throw new FsError('ENOENT', { message: `sync source ${path} does not exist in ${metaUrl}` });
        if (!shared.get('dryRun')) await held.vol.mkdir(path, { recursive: true });
      }
    } catch (e) {
      await release().catch(() => undefined);
      throw e;
    }
    return new FerryEndpoint(held.vol, key, path, `${metaUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@')}:${path}`, release);
  },
});
