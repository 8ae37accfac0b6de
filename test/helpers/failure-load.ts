// The load the failure tests (test/failure-*.test.ts) run while they kill or cut a server: each client
// creates files in one directory and writes a slice into each, as fast as it can. Every operation that
// returned is recorded as acknowledged, with the times of the acknowledgements, so a test can measure how
// long clients saw no progress around a kill and check afterwards that every acknowledged file is there
// exactly as acknowledged (and the tree is consistent).
import assert from 'node:assert/strict';
import type { Meta } from '../../src/meta/interface.js';
import { rootContext } from '../../src/meta/types.js';
import { listAll } from '../suites/meta-invariants.js';

const ROOT = rootContext();
const O_RDWR = 2;
export const SLICE_SIZE = 4096;

export interface Acked {
  inode: number;
  slice: number;
}

export class CreateWriteLoad {
  /** name -> what its client was told. */
  readonly acked = new Map<string, Acked>();
  /** Names whose create failed (outcome unknown to the client), with the error code. */
  readonly failed = new Map<string, string>();
  /** Times (ms since epoch) at which an operation was acknowledged, all clients. */
  readonly ackTimes: number[] = [];
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly clients: Meta[],
    private readonly dir: number,
  ) {}

  start(): void {
    this.loops = this.clients.map((m, k) => this.loop(m, k));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Resolves once `n` more operations have been acknowledged (or throws after ms). */
  async progress(n: number, ms = 60_000): Promise<void> {
    const target = this.ackTimes.length + n;
    const deadline = Date.now() + ms;
    while (this.ackTimes.length < target) {
      if (Date.now() > deadline) throw new Error(`the load made no progress for ${ms} ms (${this.ackTimes.length}/${target} acknowledged; failures: ${[...this.failed.values()].slice(-3).join(', ')})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** From the last acknowledgement before `t` to the first after it: how long clients saw no progress. */
  gapAround(t: number): number {
    const before = Math.max(...this.ackTimes.filter((x) => x <= t), t);
    const after = Math.min(...this.ackTimes.filter((x) => x > t));
    return Number.isFinite(after) ? after - before : Infinity;
  }

  private async loop(m: Meta, k: number): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      const name = `c${k}-${i}`;
      try {
        const { inode } = await m.create(ROOT, this.dir, name, 0o644, O_RDWR);
        const slice = await m.newSliceId();
        await m.writeSlice(ROOT, inode, 0, 0, { id: slice, size: SLICE_SIZE, off: 0, len: SLICE_SIZE });
        await m.release(ROOT, inode);
        this.acked.set(name, { inode, slice });
        this.ackTimes.push(Date.now());
      } catch (e) {
        this.failed.set(name, (e as { code?: string }).code ?? String(e));
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Every acknowledged file is present once, with its inode and slice; returns the directory's entries. */
  async verify(m: Meta): Promise<{ present: number; extra: number }> {
    const entries = await listAll(m, this.dir);
    const byName = new Map<string, number>();
    for (const e of entries) {
      assert.ok(!byName.has(e.name), `entry ${e.name} listed once`);
      byName.set(e.name, e.inode);
    }
    for (const [name, a] of this.acked) {
      assert.equal(byName.get(name), a.inode, `acknowledged file ${name} is present with inode ${a.inode}`);
      const attr = await m.getattr(ROOT, a.inode);
      assert.equal(attr.length, SLICE_SIZE, `length of acknowledged ${name}`);
      const slices = await m.readChunk(ROOT, a.inode, 0);
      assert.deepEqual(slices.map((s) => s.id), [a.slice], `acknowledged write of ${name} present once`);
    }
    return { present: this.acked.size, extra: entries.length - this.acked.size };
  }
}

/** p50 and max of some durations, for the printed summary. */
export function spread(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return s.length ? `p50 ${s[Math.floor((s.length - 1) / 2)]} ms, max ${s[s.length - 1]} ms` : 'none';
}
