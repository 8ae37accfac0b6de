// What ferry sync needs of a place files live in (a local directory, an S3 bucket, a FerryFS volume): a listing
// sorted by key, so two sides are compared by a merge-join in flat memory, and streamed reads and writes.
// Each kind is a small class registered here; the sync logic (sync.ts) is written once over this interface.
import type { Readable } from 'node:stream';
import { FsError } from '../../errors.js';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface SyncEntry {
  /** Relative to the endpoint's root, '/'-separated; a directory's key ends with '/'. */
  key: string;
  type: EntryType;
  size: number;
  /** Milliseconds since the epoch, whole (sync compares times to the millisecond). */
  mtime: number;
  /** Permission bits, where the endpoint has them. */
  mode?: number;
  /** A symlink's target. */
  target?: string;
  /** False when the listing's time may not be the file's own (S3 lists upload times; stat() reads the kept one). */
  mtimeExact: boolean;
}

export interface FileAttrs {
  size: number;
  mtime: number;
  mode?: number;
}

export interface Endpoint {
  readonly kind: string;
  /** How messages name it (credentials removed). */
  readonly label: string;
  /** Whether it has directories of its own (with modes) and symlinks; S3 has neither. */
  readonly hasDirs: boolean;
  readonly hasLinks: boolean;
  /**
   * Every entry under the root except the root itself, in ascending UTF-8 byte order of keys (the order S3
   * lists in). Directories for which skipDir(key) is true are neither listed nor entered.
   */
  list(skipDir: (dirKey: string) => boolean): AsyncIterable<SyncEntry>;
  /** The entry with its exact time, or undefined when it does not exist. */
  stat(key: string): Promise<SyncEntry | undefined>;
  /** A file's bytes, with the time and mode the reader found (S3 reads them from the object's metadata). */
  read(key: string): Promise<{ body: Readable; mtime?: number; mode?: number }>;
  /** Replaces (or creates) a file with body, whole or not at all, keeping attrs' time and mode. */
  write(key: string, body: Readable, attrs: FileAttrs): Promise<void>;
  /** Creates a directory (its parents too); an existing one is fine. */
  mkdir(key: string, mode?: number): Promise<void>;
  /** Replaces (or creates) a symlink. */
  symlink(key: string, target: string, mtime: number): Promise<void>;
  /** Removes a file, a symlink or an empty directory; false when a directory stays because it is not empty. */
  delete(entry: SyncEntry): Promise<boolean>;
  /** Sets a file's time without rewriting it, where the endpoint can. */
  setMtime?(key: string, mtime: number): Promise<void>;
  /**
   * Copies a file from src without moving its bytes when both are on one volume (FerryFS clones);
   * false when it cannot, and sync copies the bytes.
   */
  cloneFrom?(src: Endpoint, key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A location on the command line, parsed: which kind of endpoint and its own parts. */
export interface Location {
  kind: string;
  raw: string;
}

export interface EndpointKind {
  /** Whether raw is this kind's; the first kind that claims it wins. */
  claims(raw: string): boolean;
  /** Throws a one-line FsError for a location it claims but cannot use (bad URL, missing volume, no bucket). */
  open(raw: string, role: 'source' | 'destination', shared: SharedOpen): Promise<Endpoint>;
}

/** Lets two endpoints of one run share what they may (two paths of one volume share one client). */
export type SharedOpen = Map<string, unknown>;

const kinds = new Map<string, EndpointKind>();

export function registerEndpointKind(kind: string, k: EndpointKind): void {
  kinds.set(kind, k);
}

export function endpointKindOf(raw: string): string | undefined {
  for (const [name, k] of kinds) if (k.claims(raw)) return name;
  return undefined;
}

export async function openEndpoint(raw: string, role: 'source' | 'destination', shared: SharedOpen): Promise<Endpoint> {
  const kind = endpointKindOf(raw);
  if (!kind) throw new FsError('EINVAL', { message: `cannot sync ${role} '${raw}': expected a local directory, s3://BUCKET[/PREFIX] or META-URL:/PATH` });
  return kinds.get(kind)!.open(raw, role, shared);
}

/** Milliseconds of a time given as seconds + nanoseconds, whole. */
export function msOf(sec: number, nsec: number): number {
  return sec * 1000 + Math.floor(nsec / 1e6);
}
