// Errors of a client's background work (heartbeats, gc, compaction, changelog trimming): jobs retry on
// their next run, so instead of being thrown each error is logged once, with the job and the client it
// belongs to, and kept as the last error of the client's session (`ferry status` shows it) until the job
// succeeds again, which is logged and recorded once too.
import type { Meta } from './interface.js';
import type { BackgroundError } from './types.js';

export type LogLine = (line: string) => void;

const stderrLog: LogLine = (line) => process.stderr.write(`${line}\n`);

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class BackgroundErrors {
  /** The error each failing job is in, by job. */
  private readonly failing = new Map<string, string>();
  /** What the session record says, so a recovery is only recorded for the error it shows. */
  private recorded?: BackgroundError;
  private recording: Promise<void> = Promise.resolve();

  /** `who` names the client in log lines (default: its session). */
  constructor(private readonly meta: Meta, private readonly log: LogLine = stderrLog, private readonly who = () => `session ${meta.sid}`) {}

  /** A job failed: logged and recorded the first time, again only once the error changes or cleared. */
  failed(job: string, e: unknown): Promise<void> {
    const message = messageOf(e);
    if (this.failing.get(job) === message) return this.recording;
    this.failing.set(job, message);
    this.log(`ferry: ${this.who()}: background ${job} failed: ${message} (retrying)`);
    return this.record({ job, message, at: Date.now() });
  }

  /** A job succeeded: if it was failing, that is logged and recorded once. */
  succeeded(job: string): Promise<void> {
    const message = this.failing.get(job);
    if (message === undefined) return this.recording;
    this.failing.delete(job);
    this.log(`ferry: ${this.who()}: background ${job} works again (after: ${message})`);
    const r = this.recorded;
    if (!r || r.job !== job || r.message !== message || r.clearedAt) return this.recording;
    return this.record({ ...r, clearedAt: Date.now() });
  }

  /** Whether `job` is failing now. */
  isFailing(job: string): boolean {
    return this.failing.has(job);
  }

  /** Writes the session record in order; resolves, never rejects. */
  private record(lastError: BackgroundError): Promise<void> {
    this.recorded = lastError;
    this.recording = this.recording.then(() =>
      this.meta.setSessionInfo({ lastError }).catch((e: unknown) => {
        // Usually the metadata that made the job fail: say so only when it is something else.
        const why = messageOf(e);
        if (why !== lastError.message) this.log(`ferry: ${this.who()}: could not record the background error in the session: ${why}`);
      }),
    );
    return this.recording;
  }
}
