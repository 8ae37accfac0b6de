// The replicator (`ferry mirror run`): tails the source's changelog and applies each record to the mirror
// in order, the applied version stored in the same transaction, so a restart resumes exactly where it
// stopped. It reports its progress to the source (which keeps the changelog for it) and trims what
// every mirror has applied, and answers clients waiting for a version.
import { FsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { APPLIED_COUNTER } from '../meta/base/core.js';
import { trimForMirrors } from '../meta/retention.js';
import { mirrorsOf, resyncHint, withMirrors, type MirrorEntry } from './format.js';
import { WaitServer } from './wait-server.js';
import { serviceSecretsOf, type TlsFiles } from '../meta/service-auth.js';
import { checkLease, releaseLease, takeLease } from './lease.js';

export interface ReplicatorOptions {
  /** Records fetched per read of the source changelog. */
  batch?: number;
  /** Longest pause between polls of an idle source (ms). */
  maxIdleMs?: number;
  /** host:port for the wait endpoint (default 127.0.0.1:0, a free port). */
  listen?: string;
  /** How often progress is written to the source and the changelog trimmed (ms). */
  reportMs?: number;
  /** Serve the wait endpoint over TLS. */
  tls?: TlsFiles;
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Replicator {
  applied = 0;
  sourceVersion = 0;
  /** Commit time (ms) of the last applied record: lag in seconds is measured against it. */
  appliedTs = 0;
  recordsApplied = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly wait: WaitServer;
  private lastReport = 0;
  private leased = false;
  private readonly opts: Required<Omit<ReplicatorOptions, 'log' | 'tls'>> & { log: (m: string) => void };

  constructor(readonly mirror: Meta, readonly source: Meta, readonly id: string, opts: ReplicatorOptions = {}) {
    this.opts = {
      batch: opts.batch ?? 1000,
      maxIdleMs: opts.maxIdleMs ?? 50,
      listen: opts.listen ?? '127.0.0.1:0',
      reportMs: opts.reportMs ?? 1000,
      log: opts.log ?? (() => undefined),
    };
    // Clients of the mirror sign their waits with the mirror volume's service secret.
    this.wait = new WaitServer(() => ({ id: this.id, sourceVersion: this.sourceVersion, appliedTs: this.appliedTs }), () => serviceSecretsOf(mirror), opts.tls);
  }

  /**
   * Takes the mirror's replicator lease (refused, EBUSY, while another replicator runs), starts the wait
   * endpoint (registered through the replicator's session on the mirror) and the loop.
   */
  async start(): Promise<string> {
    this.applied = await this.mirror.getCounter(APPLIED_COUNTER);
    await this.mirror.newSession({ mountPoint: `mirror replicator ${this.id}`, role: 'replicator' });
    try {
      await takeLease(this.mirror);
      this.leased = true;
      const [host, port] = splitHostPort(this.opts.listen);
      const addr = await this.wait.listen(host, port);
      this.wait.advance(this.applied);
      await this.mirror.setSessionInfo({ mirrorWait: addr });
      this.loop = this.run();
      return addr;
    } catch (e) {
      if (this.leased) await releaseLease(this.mirror).catch(() => undefined);
      this.leased = false;
      await this.mirror.closeSession().catch(() => undefined);
      throw e;
    }
  }

  /** Resolves when the loop ends: after stop(), or rejects when replication cannot go on. */
  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    for (let idle = 0; !this.stopped; ) {
      const n = await this.step();
      if (Date.now() - this.lastReport >= this.opts.reportMs) await this.report();
      if (n > 0) idle = 0;
      else await sleep((idle = Math.min(this.opts.maxIdleMs, idle ? idle * 2 : 1)));
    }
  }

  /** Applies what the source has beyond the mirror; returns how many records were applied. */
  async step(): Promise<number> {
    const recs = await this.source.readChangelog(this.applied, this.opts.batch);
    if (!recs.length) return 0;
    if (recs[0].version > this.applied + 1) {
      throw new FsError('ESTALE', {
        message: `the source changelog no longer has version ${this.applied + 1} (trimmed): ${resyncHint(this.mirror.url)}`,
      });
    }
    let n = 0;
    for (const rec of recs) {
      if (rec.version <= this.applied) continue;
      // A writable-mirror client may have applied its own record already: then this is a no-op.
      this.applied = await this.mirror.applyChangeRecord(rec);
      if (this.applied < rec.version) throw new FsError('EIO', { message: `mirror refused record ${rec.version} (applied ${this.applied})` });
      this.appliedTs = rec.ts;
      this.wait.advance(this.applied);
      n++;
    }
    this.recordsApplied += n;
    this.sourceVersion = Math.max(this.sourceVersion, recs[recs.length - 1].version);
    return n;
  }

  /** Tells the source how far this mirror is, heartbeats, and trims what every mirror has applied. */
  private async report(): Promise<void> {
    this.lastReport = Date.now();
    const applied = this.applied;
    const f = await this.source.updateFormat((old) => {
      const mirrors = mirrorsOf(old);
      // `mirror create` registers a mirror; one missing was removed (`ferry mirror remove`): never re-register it.
      if (!mirrors[this.id]) {
        throw new FsError('ENOENT', { message: `mirror ${this.id} is no longer registered in its source (removed?): create it again with 'ferry mirror create --force'` });
      }
      const me: MirrorEntry = { ...mirrors[this.id], applied, appliedAt: Date.now() };
      return withMirrors(old, { ...mirrors, [this.id]: me });
    });
    await this.mirror.heartbeat();
    await checkLease(this.mirror);
    const late = mirrorsOf(f)[this.id]?.needsResync;
    if (late) throw new FsError('ESTALE', { message: `mirror ${this.id} needs a re-snapshot since ${late.since} (${late.reason}): ${resyncHint(this.mirror.url)}` });
    await trimForMirrors(this.source, { format: f });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => undefined);
    if (this.leased) {
      await this.report().catch(() => undefined);
      await releaseLease(this.mirror).catch(() => undefined);
      this.leased = false;
    }
    await this.wait.close();
    await this.mirror.closeSession();
  }
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, 0] : [s.slice(0, i).replace(/^\[|\]$/g, ''), Number(s.slice(i + 1))];
}
