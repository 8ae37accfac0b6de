// The volume's used space as this client sees it, so that the write() crossing --capacity fails with
// ENOSPC there and then (as on a full local disk), not at close after the data was buffered and uploaded.
//
// As JuiceFS does, a client checks against the metadata's usedSpace counter, read at most once per
// USAGE_REFRESH_MS in the background (never a round trip per write), plus what it knows that the counter
// does not show yet: growth its writes were admitted for and have not committed (`reserved`), and growth
// it committed since the counter was read (`committed`). Only a write the estimate refuses waits for a
// fresh read, so space freed meanwhile (an rm) counts before ENOSPC is answered.
//
// The bound: other clients' commits reach this client's estimate within one refresh interval, so a set of
// clients racing for the last bytes may together admit up to what they wrote in that interval beyond the
// capacity. The metadata still refuses every commit past the capacity (the volume-quota rule), so the
// overshoot is never stored: those writes fail with ENOSPC at the next write, fsync or close instead, and
// their uploaded blocks are deleted (chunk/writer.ts).
import { fsErr } from '../errors.js';

/** How old the counter may get before a write reads it again in the background. */
export const USAGE_REFRESH_MS = 1000;

export class SpaceGauge {
  /** The metadata's usedSpace counter as last read (undefined before the first read). */
  private used?: number;
  private readAt = -Infinity;
  private reading?: Promise<void>;
  /** Growth admitted by write() and not committed yet. */
  private reserved = 0;
  /** Growth this client committed since the counter was read: maybe not in `used` yet. */
  private committed = 0;

  constructor(
    /** Reads the metadata's usedSpace counter. */
    private readonly readUsed: () => Promise<number>,
    /** Bytes; 0 means unlimited (every call is then free). */
    private readonly capacity: number,
    private readonly refreshMs = USAGE_REFRESH_MS,
  ) {}

  /** False when the volume has no capacity limit: writes need not be admitted. */
  get limited(): boolean {
    return this.capacity > 0;
  }

  /** Growth not yet committed that this client's writes were admitted for (for tests and stats). */
  get pending(): number {
    return this.reserved;
  }

  /**
   * Admits a write growing the volume by `grow` bytes (4 KiB-aligned, as the metadata counts it), or
   * throws ENOSPC. An admitted write holds its growth until `commit` or `release` gives it back.
   */
  async admit(grow: number): Promise<void> {
    if (!(this.capacity > 0) || grow <= 0) return;
    if (this.used === undefined) await this.refresh(false);
    else if (performance.now() - this.readAt > this.refreshMs) void this.refresh(false);
    if (this.over(grow)) {
      await this.refresh(true);
      if (this.over(grow)) throw fsErr('ENOSPC');
    }
    this.reserved += grow;
  }

  /** `admitted` bytes of admitted growth reached the metadata as `grown` bytes of usedSpace. */
  commit(admitted: number, grown: number): void {
    this.reserved = Math.max(0, this.reserved - admitted);
    this.committed += Math.max(0, grown);
  }

  /** Admitted growth that will not be committed (the data was overwritten, or its commit failed). */
  release(admitted: number): void {
    this.reserved = Math.max(0, this.reserved - admitted);
  }

  private over(grow: number): boolean {
    // An unreadable counter refuses nothing here: the metadata checks every commit anyway.
    if (this.used === undefined) return false;
    return this.used + this.committed + this.reserved + grow > this.capacity;
  }

  /**
   * Reads the counter (one read shared by concurrent callers). `fresh`: the read must start now, not
   * earlier, so that it sees whatever was freed before the caller asked.
   */
  private async refresh(fresh: boolean): Promise<void> {
    if (fresh && this.reading) await this.reading;
    if (!this.reading) {
      const p: Promise<void> = this.readOnce().finally(() => {
        if (this.reading === p) this.reading = undefined;
      });
      this.reading = p;
    }
    await this.reading;
  }

  private async readOnce(): Promise<void> {
    // Commits made while the read runs may or may not be in it: they stay counted (an overestimate of one
    // round trip's commits) until the next read.
    const before = this.committed;
    try {
      this.used = await this.readUsed();
      this.committed -= before;
    } catch {
      // Kept as it was until the next refresh: the metadata checks every commit anyway.
    }
    this.readAt = performance.now();
  }
}
