// An S3 bucket (any S3-compatible service) as a sync endpoint, opened as the s3:// object backend opens it
// (endpoint, region and keys from the URL's query and user info or the environment: src/object/s3.ts).
// S3 has no file times or modes: they are kept in user metadata as rclone keeps them (`mtime`: seconds with
// a fraction, `mode`: octal), so a second sync finds the files unchanged and a sync back restores them.
import type { Readable } from 'node:stream';
import { FsError } from '../../errors.js';
import type { S3Store } from '../../object/s3.js';
import { registerEndpointKind, type Endpoint, type FileAttrs, type SyncEntry } from './endpoint.js';

/** `1700000000.123` -> 1700000000123 exactly (no float rounding); undefined when absent or malformed. */
export function parseMtimeMeta(v: string | undefined): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v?.trim() ?? '');
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Number((m[2] ?? '').slice(0, 3).padEnd(3, '0'));
}

export function mtimeMeta(ms: number): string {
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}`;
}

function modeOf(meta: Record<string, string>): number | undefined {
  const m = /^[0-7]{1,6}$/.exec(meta.mode ?? '');
  return m ? parseInt(m[0], 8) & 0o7777 : undefined;
}

export class S3Endpoint implements Endpoint {
  readonly kind = 's3';
  readonly hasDirs = false;
  readonly hasLinks = false;

  constructor(
    private readonly store: S3Store,
    readonly label: string,
    /** A destination bucket a dry run did not create: lists nothing. */
    private readonly missing = false,
  ) {}

  async *list(skipDir: (key: string) => boolean): AsyncIterable<SyncEntry> {
    if (this.missing) return;
    let skipped: string | undefined;
    for await (const o of this.store.listAll('')) {
      if (skipped !== undefined && o.key.startsWith(skipped)) continue;
      // A key ending in '/' is a directory marker (the consoles make them); one whose every parent is skipped too.
      for (let i = o.key.indexOf('/'); i >= 0 && i < o.key.length; i = o.key.indexOf('/', i + 1)) {
        const dir = o.key.slice(0, i + 1);
        if ((skipped === undefined || !dir.startsWith(skipped)) && skipDir(dir)) {
          skipped = dir;
          break;
        }
      }
      if (skipped !== undefined && o.key.startsWith(skipped)) continue;
      const isDir = o.key.endsWith('/');
      yield { key: o.key, type: isDir ? 'dir' : 'file', size: isDir ? 0 : o.size, mtime: o.mtime, mtimeExact: false };
    }
  }

  async stat(key: string): Promise<SyncEntry | undefined> {
    try {
      const h = await this.store.headWithMetadata(key);
      const kept = parseMtimeMeta(h.metadata.mtime);
      return { key, type: key.endsWith('/') ? 'dir' : 'file', size: h.size, mtime: kept ?? h.mtime, mode: modeOf(h.metadata), mtimeExact: true };
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT' && !/bucket/.test(e.description)) return undefined;
      throw e;
    }
  }

  async read(key: string): Promise<{ body: Readable; mtime: number; mode?: number }> {
    const r = await this.store.getStream(key);
    return { body: r.body, mtime: parseMtimeMeta(r.metadata.mtime) ?? r.mtime, mode: modeOf(r.metadata) };
  }

  async write(key: string, body: Readable, attrs: FileAttrs): Promise<void> {
    const meta: Record<string, string> = { mtime: mtimeMeta(attrs.mtime) };
    if (attrs.mode !== undefined) meta.mode = (attrs.mode & 0o7777).toString(8);
    await this.store.putStream(key, body, meta);
  }

  /** S3 has no directories: a file's key makes its "directory". */
  async mkdir(): Promise<void> {}

  async symlink(key: string): Promise<void> {
    throw new FsError('ENOTSUP', { message: `S3 has no symlinks`, path: key });
  }

  async delete(entry: SyncEntry): Promise<boolean> {
    await this.store.delete(entry.key);
    return true;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** The URL without credentials, for messages. */
function safe(raw: string): string {
  return raw.replace(/^(s3:\/\/)[^@/]*@/i, '$1');
}

registerEndpointKind('s3', {
  claims: (raw) => /^s3:\/\//i.test(raw),
  async open(raw, role, shared) {
    const { openObjectStore } = await import('../../object/index.js');
    const store = (await openObjectStore(raw)) as S3Store;
    try {
      // Fails early, in one line, on a missing bucket, bad keys or an endpoint that does not answer; a
      // destination's bucket is created when missing (as juicefs sync does), except by a dry run.
      if (role === 'destination' && !shared.get('dryRun')) await store.create();
      try {
        await store.list('', undefined, 1);
      } catch (e) {
        const noBucket = e instanceof FsError && e.code === 'ENOENT' && /^bucket /.test(e.description);
        if (noBucket && role === 'destination' && shared.get('dryRun')) return new S3Endpoint(store, safe(raw), true);
        throw e;
      }
    } catch (e) {
      await store.close().catch(() => undefined);
      if (e instanceof FsError) throw new FsError(e.code, { message: `sync ${role} ${safe(raw)}: ${e.description}` });
      throw e;
    }
    return new S3Endpoint(store, safe(raw));
  },
});
