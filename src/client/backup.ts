// Automatic metadata backups (`--backup-meta INTERVAL` on a mount or gateway, `backupMeta` in the SDK), as
// JuiceFS makes them: a gzipped `ferry dump` (without secrets) written into the volume's object store as
// NAME/meta/dump-YYYY-MM-DD-HHMMSS.json.gz (UTC), which `ferry load` reads back from the file or the store.
// Among all the clients of a volume, one at a time backs up: a lease in the engine that lasts the interval,
// taken by whichever client checks first once it ran out. The newest `keep` backups stay, older ones are deleted.
import { randomBytes } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpRecords } from '../meta/dump.js';
import { writeDump } from '../meta/dump-stream.js';
import type { Meta } from '../meta/interface.js';
import type { Format } from '../meta/types.js';
import type { ObjectStore } from '../object/index.js';
import type { ClientConfig } from './config.js';
import type { Log } from './storage.js';

export const DEFAULT_BACKUPS_KEPT = 24;
/** The engine counter holding when the running backup lease ends (ms). */
const LEASE = 'metaBackupLease';
const NAME = /^dump-\d{4}-\d\d-\d\d-\d{6}\.json\.gz$/;
/** Larger dumps go up in parts of this size where the store has multipart uploads. */
const PART = 32 << 20;

/** The folder of a volume's backups in its store. */
export function backupPrefix(volume: string): string {
  return `${volume}/meta/`;
}

/** `NAME/meta/dump-2026-12-03-201500.json.gz` for a backup made at `at` (UTC). */
export function backupKey(volume: string, at: Date): string {
  const s = at.toISOString(); // 2026-12-03T20:15:00.123Z
  return `${backupPrefix(volume)}dump-${s.slice(0, 10)}-${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}.json.gz`;
}

export interface BackupResult {
  key: string;
  bytes: number;
  /** Older backups deleted to keep the newest `keep`. */
  deleted: number;
}

/** Uploads a local file as `key`: one PUT, or a multipart upload in PART pieces when large. */
async function upload(store: ObjectStore, key: string, file: string, size: number): Promise<void> {
  const fh = await open(file, 'r');
  try {
    if (size <= PART || !store.createMultipartUpload || !store.uploadPart || !store.completeUpload) {
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      return await store.put(key, buf);
    }
    const up = await store.createMultipartUpload(key);
    try {
      const part = Math.max(PART, up.minPartSize, Math.ceil(size / up.maxCount));
      const parts = [];
      for (let off = 0, num = 1; off < size; off += part, num++) {
        const buf = Buffer.alloc(Math.min(part, size - off));
        await fh.read(buf, 0, buf.length, off);
        parts.push(await store.uploadPart(key, up.uploadId, num, buf));
      }
      await store.completeUpload(key, up.uploadId, parts);
    } catch (e) {
      await store.abortUpload?.(key, up.uploadId).catch(() => undefined);
      throw e;
    }
  } finally {
    await fh.close();
  }
}

export class MetaBackups {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private warned = false;
  readonly intervalMs: number;
  readonly keep: number;

  constructor(
    private readonly meta: Meta,
    private readonly format: Format,
    /** Opens the volume's raw store (no cache, no block transform) for one backup; closed after it. */
    private readonly openStore: () => Promise<ObjectStore>,
    cfg: NonNullable<ClientConfig['backupMeta']>,
    private readonly log: Log,
  ) {
    this.intervalMs = (cfg.interval ?? 0) * 1000;
    this.keep = cfg.keep ?? DEFAULT_BACKUPS_KEPT;
  }

  /** Checks a tenth of the interval (1 s to 1 min), so a backup is at most that late after the lease ran out. */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    const every = Math.min(60_000, Math.max(1000, this.intervalMs / 10));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  /** Backs up if this client gets the lease (nobody backed up within the interval); undefined if not. */
  async tick(now = Date.now()): Promise<BackupResult | undefined> {
    if (this.running) return undefined;
    const run = (async () => {
      if (this.format.storage.encryption) {
        // A dump holds every file name in the clear: on an encrypted volume it is not put in the bucket.
        if (!this.warned) this.log(`ferry: metadata backups are off: volume '${this.format.name}' is encrypted and a backup would store its file names unencrypted; use 'ferry dump' to a safe place`);
        this.warned = true;
        return undefined;
      }
      if (!(await this.meta.takeLease(LEASE, this.intervalMs, now))) return undefined;
      return this.backupNow(new Date(now));
    })();
    this.running = run;
    try {
      return await run;
    } catch (e) {
      this.log(`ferry: metadata backup failed: ${(e as Error).message}`);
      return undefined;
    } finally {
      this.running = undefined;
    }
  }

  /** Writes a backup now (through a temp file: the dump streams, memory stays flat) and prunes old ones. */
  async backupNow(at = new Date()): Promise<BackupResult> {
    const tmp = join(tmpdir(), `ferry-meta-backup-${process.pid}-${randomBytes(4).toString('hex')}.json.gz`);
    const key = backupKey(this.format.name, at);
    try {
      await writeDump(dumpRecords(this.meta), tmp, true);
      const { size } = await stat(tmp);
      const store = await this.openStore();
      try {
        await upload(store, key, tmp, size);
        const deleted = await this.prune(store);
        this.log(`ferry: metadata backed up to ${key} (${size} bytes)`);
        return { key, bytes: size, deleted };
      } finally {
        await store.close().catch(() => undefined);
      }
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Deletes all but the newest `keep` backups (names sort by time). */
  private async prune(store: ObjectStore): Promise<number> {
    const prefix = backupPrefix(this.format.name);
    const keys: string[] = [];
    for await (const o of store.listAll(prefix)) if (NAME.test(o.key.slice(prefix.length))) keys.push(o.key);
    keys.sort();
    const old = keys.slice(0, Math.max(0, keys.length - this.keep));
    for (const k of old) await store.delete(k);
    return old.length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
