// Directory quotas at write(): the write that would take a file past the capacity quota of a directory
// above it fails with EDQUOT there and then, before its bytes are buffered or uploaded (as SpaceGauge does
// for the volume's capacity). Per file being written, the room its quotas leave (Meta.quotaRoom) is read at
// its first growing write and again at most once per USAGE_REFRESH_MS in the background; growth admitted
// since, and committed since the read, count against it. Only a write the estimate refuses waits for a
// fresh read. Writes of other files under the same quota (here or on other clients) reach the estimate
// with the next read, so they may together pass the quota by what they wrote meanwhile: the metadata
// refuses that commit (EDQUOT at the next write, fsync or close) and its blocks are deleted.
import { fsErr } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { rootContext, type Format } from '../meta/types.js';
import { USAGE_REFRESH_MS } from './space.js';

/** How often a client looks again whether the volume has capacity quotas at all (a format read). */
const QUOTAS_REFRESH_MS = 2000;

interface FileRoom {
  /** What Meta.quotaRoom answered (undefined: no quota limits the file). */
  room?: number;
  readAt: number;
  reading?: Promise<void>;
  /** Growth admitted and not committed. */
  reserved: number;
  /** Growth committed since the room was read. */
  committed: number;
}

const hasCapacityQuota = (f: Format) => Object.values(f.quotas ?? {}).some((q) => q.space > 0);

export class QuotaGauge {
  private on: boolean;
  private checkedAt = performance.now();
  private checking?: Promise<void>;
  private readonly files = new Map<number, FileRoom>();

  constructor(private readonly meta: Meta, format: Format, private readonly refreshMs = USAGE_REFRESH_MS) {
    this.on = hasCapacityQuota(format);
  }

  /** Admits growth of file `ino` by `grow` bytes (4 KiB-aligned), or throws EDQUOT. */
  async admit(ino: number, grow: number): Promise<void> {
    this.recheck();
    if (!this.on || grow <= 0) return;
    let f = this.files.get(ino);
    if (!f) this.files.set(ino, (f = { readAt: -Infinity, reserved: 0, committed: 0 }));
    if (f.readAt === -Infinity) await this.read(ino, f, false);
    else if (performance.now() - f.readAt > this.refreshMs) void this.read(ino, f, false);
    if (over(f, grow)) {
      await this.read(ino, f, true);
      if (over(f, grow)) throw fsErr('EDQUOT');
    }
    f.reserved += grow;
  }

  /** Admitted growth of `ino` reached the metadata: `grown` bytes of its length. */
  commit(ino: number, grown: number): void {
    const f = this.files.get(ino);
    if (!f) return;
    f.reserved = Math.max(0, f.reserved - Math.max(0, grown));
    f.committed += Math.max(0, grown);
  }

  /** Admitted growth of `ino` that will not be committed (overwritten in the buffers, or refused). */
  release(ino: number): void {
    const f = this.files.get(ino);
    if (f) f.reserved = 0;
  }

  /** The file's last handle closed. */
  forget(ino: number): void {
    this.files.delete(ino);
  }

  /** Whether the volume has capacity quotas, from the format read again in the background. */
  private recheck(): void {
    if (this.checking || performance.now() - this.checkedAt < QUOTAS_REFRESH_MS) return;
    this.checkedAt = performance.now();
    this.checking = this.meta
      .load()
      .then((fmt) => void (this.on = hasCapacityQuota(fmt)), () => undefined)
      .finally(() => (this.checking = undefined));
  }

  private async read(ino: number, f: FileRoom, fresh: boolean): Promise<void> {
    if (fresh && f.reading) await f.reading;
    if (!f.reading) {
      const before = f.committed;
      const p: Promise<void> = this.meta.quotaRoom(rootContext(), ino).then(
        (room) => {
          f.room = room;
          f.committed -= before;
        },
        // Unknown: refuses nothing here, the metadata checks every commit anyway.
        () => undefined,
      ).finally(() => {
        f.readAt = performance.now();
        if (f.reading === p) f.reading = undefined;
      });
      f.reading = p;
    }
    await f.reading;
  }
}

function over(f: FileRoom, grow: number): boolean {
  return f.room !== undefined && f.committed + f.reserved + grow > f.room;
}
