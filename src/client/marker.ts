// The store marker: a volume claims its prefix (`NAME/`) in its object store with an object holding its uuid,
// as JuiceFS does with `juicefs_uuid`. Two volumes of one name on one store (two SQLite databases in one
// directory both default to ./blocks) would otherwise read, overwrite and destroy each other's blocks.
// `ferry format` writes it and refuses a prefix another uuid claimed; every client checks it when it opens
// the volume and claims a used prefix that has no marker yet (volumes formatted before markers existed); a
// mirror shares its source's store and uuid, so it passes the check, and never writes the marker itself.
// `ferry destroy` removes it last.
import { resolve } from 'node:path';
import { FsError } from '../errors.js';
import type { Format } from '../meta/types.js';
import type { ListResult, ObjectInfo, ObjectStore, PutOptions } from '../object/interface.js';
import { redactUrl } from '../mirror/format.js';

/** The marker's name under the volume's prefix (outside `chunks/`, so no block key can collide with it). */
export const MARKER_NAME = 'ferry_uuid';

/** What a marker records: the claiming volume, named the way messages name it. */
export interface StoreClaim {
  uuid: string;
  name: string;
  /** The claiming volume's metadata URL (no password; SQLite paths absolute), when known. */
  meta?: string;
  claimedAt?: string;
}

export function markerKey(volume: string): string {
  return `${volume}/${MARKER_NAME}`;
}

/** A metadata URL as a marker records it: without its password, an SQLite path made absolute. */
export function claimedMetaUrl(metaUrl: string): string {
  const m = /^(sqlite3?:\/\/)([^?]*)(\?.*)?$/i.exec(metaUrl);
  if (m) return `${m[1]}${resolve(decodeURIComponent(m[2]!))}${m[3] ?? ''}`;
  return redactUrl(metaUrl);
}

function describe(c: StoreClaim): string {
  return `volume '${c.name}' (uuid ${c.uuid}${c.meta ? `, metadata ${c.meta}` : ''})`;
}

/** The claim in the store, or undefined when the prefix has no marker. */
export async function readMarker(store: ObjectStore, volume: string): Promise<StoreClaim | undefined> {
  let raw: Buffer;
  try {
    raw = await store.get(markerKey(volume));
  } catch (e) {
    if (e instanceof FsError && e.code === 'ENOENT') return undefined;
    throw e;
  }
  const text = raw.toString('utf8').trim();
  try {
    const c = JSON.parse(text) as Partial<StoreClaim>;
    if (typeof c.uuid === 'string') return { uuid: c.uuid, name: typeof c.name === 'string' ? c.name : volume, meta: c.meta, claimedAt: c.claimedAt };
  } catch {
    // Not JSON: a bare uuid, as JuiceFS writes its marker.
  }
  return { uuid: text, name: volume };
}

export async function writeMarker(store: ObjectStore, claim: StoreClaim): Promise<void> {
  const body = { ...claim, claimedAt: claim.claimedAt ?? new Date().toISOString() };
  await store.put(markerKey(claim.name), Buffer.from(`${JSON.stringify(body)}\n`));
}

export async function deleteMarker(store: ObjectStore, volume: string): Promise<void> {
  try {
    await store.delete(markerKey(volume));
  } catch (e) {
    if (!(e instanceof FsError && e.code === 'ENOENT')) throw e;
  }
}

/** The error of a prefix claimed by another volume (as opposed to a store that could not be asked). */
export class ClaimedByAnother extends FsError {}

/** The one line naming both volumes when `me` finds its prefix claimed by `owner`. */
export function claimedByAnother(store: ObjectStore, me: StoreClaim, owner: StoreClaim, formatting = false): FsError {
  const prefix = `${store.url.replace(/\/+$/, '')}/${me.name}/`;
  return new ClaimedByAnother('EEXIST', {
    message: formatting
      ? `refusing to format ${describe(me)} on object storage prefix ${prefix}: it belongs to ${describe(owner)}; give the new volume another --storage or name`
      : `${describe(me)} cannot use object storage prefix ${prefix}: it belongs to ${describe(owner)}; two volumes must not share blocks`,
  });
}

/**
 * Before `ferry format` writes the metadata: the prefix must not be claimed by another volume, and a new
 * volume must not start on a prefix that already holds objects nobody claimed (a volume formatted before
 * store markers, whose clients would otherwise be locked out of their own blocks).
 */
export async function checkFormatTarget(store: ObjectStore, format: Pick<Format, 'name' | 'uuid'>, opts: { metaUrl: string; updating: boolean }): Promise<void> {
  const me: StoreClaim = { uuid: format.uuid, name: format.name, meta: claimedMetaUrl(opts.metaUrl) };
  const owner = await readMarker(store, format.name);
  if (owner && owner.uuid !== format.uuid) throw claimedByAnother(store, me, owner, true);
  if (owner || opts.updating) return;
  const found = await holdsObjects(store, format.name);
  if (found) {
    throw new FsError('EEXIST', {
      message:
        `refusing to format ${describe(me)} on object storage prefix ${store.url.replace(/\/+$/, '')}/${format.name}/: it holds objects of ` +
        `another volume (e.g. ${found}) formatted before store markers; give the new volume another --storage or name`,
    });
  }
}

/** The first object under the volume's prefix, if any. */
async function holdsObjects(store: ObjectStore, volume: string): Promise<string | undefined> {
  for await (const o of store.listAll(`${volume}/`)) {
    // A storage check of a format that failed half-way may leave its test object behind.
    if (o.isDir || o.key.slice(volume.length + 1).startsWith('ferry-check-')) continue;
    return o.key;
  }
  return undefined;
}

export interface MarkerCheck {
  /** The opening client's metadata URL (for the messages and the claim). */
  metaUrl?: string;
  /**
   * Write the marker when the prefix has none: 'always' (format), 'used' only when the prefix holds objects
   * (a writable client of the volume itself, not a mirror: a volume formatted before markers existed is
   * claimed, while an empty or missing store — a file:// directory moved away, an unmounted share — is
   * never created by opening a client); no claim when absent.
   */
  claim?: 'always' | 'used';
  /** The caller is `ferry format` (for the message). */
  formatting?: boolean;
}

/**
 * Checks that the volume's prefix in `store` (the raw store, no transforms) is its own: a marker with
 * another uuid is an error naming both volumes; a prefix without one is claimed as `claim` says.
 */
export async function checkMarker(store: ObjectStore, format: Pick<Format, 'name' | 'uuid'>, opts: MarkerCheck): Promise<void> {
  const me: StoreClaim = { uuid: format.uuid, name: format.name, meta: opts.metaUrl && claimedMetaUrl(opts.metaUrl) };
  const owner = await readMarker(store, format.name);
  if (owner && owner.uuid !== format.uuid) throw claimedByAnother(store, me, owner, opts.formatting);
  if (owner || !opts.claim) return;
  if (opts.claim === 'used' && !(await holdsObjects(store, format.name))) return;
  await writeMarker(store, me);
  // Two volumes claiming at the same moment: the one that reads back the other's write fails here (object
  // stores offer no create-if-absent to close the window completely).
  const now = await readMarker(store, format.name);
  if (now && now.uuid !== format.uuid) throw claimedByAnother(store, me, now, opts.formatting);
}

/**
 * The volume's raw store, its marker checked: at once when the store answers (a prefix claimed by another
 * volume fails here, before anything else), else before the first operation that reaches the store. A
 * client must still open with its object store down (its caches serve reads, write-back stages writes),
 * and must never touch the store before the check has passed.
 */
export async function markedStore(store: ObjectStore, format: Pick<Format, 'name' | 'uuid'>, opts: MarkerCheck): Promise<ObjectStore> {
  try {
    await checkMarker(store, format, opts);
    return store;
  } catch (e) {
    if (e instanceof ClaimedByAnother) throw e;
    return new MarkerGate(store, () => checkMarker(store, format, opts));
  }
}

/** Runs the marker check (again, until it passes) before any operation reaches the store. */
class MarkerGate implements ObjectStore {
  private passed?: Promise<void>;

  constructor(private readonly inner: ObjectStore, private readonly check: () => Promise<void>) {}

  get url(): string {
    return this.inner.url;
  }

  private gate(): Promise<void> {
    this.passed ??= this.check().catch((e: unknown) => {
      this.passed = undefined;
      throw e;
    });
    return this.passed;
  }

  async create(): Promise<void> {
    await this.gate();
    return this.inner.create();
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    await this.gate();
    return this.inner.put(key, data, opts);
  }

  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }

  async get(key: string, off?: number, len?: number): Promise<Buffer> {
    await this.gate();
    return this.inner.get(key, off, len);
  }

  async head(key: string): Promise<ObjectInfo> {
    await this.gate();
    return this.inner.head(key);
  }

  async delete(key: string): Promise<void> {
    await this.gate();
    return this.inner.delete(key);
  }

  async list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    await this.gate();
    return this.inner.list(prefix, marker, limit);
  }

  async *listAll(prefix: string): AsyncIterable<ObjectInfo> {
    await this.gate();
    yield* this.inner.listAll(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
