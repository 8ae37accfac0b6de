// Reading FerryFS metrics endpoints for `ferry stats`: which endpoints a target names (a mount point, a
// metadata URL, or HOST:PORT), one scrape of each parsed strictly (prom-text.ts), and the sums the
// stats view shows. Several endpoints (every process of a volume) add up.
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { parsePromText, type PromFamily, type PromSample } from './prom-text.js';

/** Parses the text exposition format strictly (throws naming the line). */
export function parseMetrics(text: string): PromFamily[] {
  return parsePromText(text);
}

export interface Target {
  /** What the user named, for messages. */
  label: string;
  /** HOST:PORT of each metrics endpoint. */
  addresses: string[];
}

/** Where `ferry mount` records its metrics address (`ferry stats MOUNTPOINT` reads it). */
export async function mountMetricsAddress(mp: string): Promise<string | undefined> {
  const { metricsFileFor } = await import('../fuse/daemon.js');
  try {
    const rec = JSON.parse(await readFile(metricsFileFor(resolve(mp)), 'utf8')) as { metrics?: string; pid?: number };
    // A mount that ended without cleaning up (killed) left the file behind: its pid is gone.
    if (rec.pid) process.kill(rec.pid, 0);
    return rec.metrics;
  } catch {
    return undefined;
  }
}

/** The endpoints a stats target names: HOST:PORT itself, a volume's live sessions with metrics, or a mount's. */
export async function resolveTarget(target: string): Promise<Target> {
  if (/^(\[[^\]]+\]|[^/:]*):\d+$/.test(target)) return { label: target, addresses: [target] };
  if (target.includes('://')) {
    const { withMeta } = await import('./meta.js');
    const { SESSION_TIMEOUT_MS } = await import('../vfs/jobs.js');
    const addresses = await withMeta(target, async (meta) => {
      const now = Date.now();
      // A mount's standby serving process serves nothing yet: its figures would only add noise.
      return (await meta.listSessions()).filter((s) => typeof s.metrics === 'string' && s.standby !== true && now - s.heartbeat < SESSION_TIMEOUT_MS).map((s) => s.metrics as string);
    });
    if (!addresses.length) throw new Error(`no running client of ${redact(target)} serves metrics (start mounts, gateways or services with --metrics HOST:PORT)`);
    return { label: redact(target), addresses: [...new Set(addresses)] };
  }
  const address = await mountMetricsAddress(target);
  if (!address) throw new Error(`${target}: no FerryFS mount with metrics there (mount it with --metrics HOST:PORT, or give HOST:PORT or META-URL)`);
  return { label: resolve(target), addresses: [address] };
}

function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

/** GET http://ADDRESS/metrics, within timeoutMs. */
export function scrape(address: string, timeoutMs = 5000): Promise<string> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((res, rej) => {
    const req = request({ host, port, path: '/metrics', timeout: timeoutMs }, (r) => {
      const parts: Buffer[] = [];
      r.on('data', (d: Buffer) => parts.push(d));
      r.on('end', () => (r.statusCode === 200 ? res(Buffer.concat(parts).toString('utf8')) : rej(new Error(`metrics at ${address}: HTTP ${r.statusCode}`))));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`metrics at ${address}: no answer in ${timeoutMs / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => rej(e.code === 'ECONNREFUSED' ? new Error(`metrics at ${address}: connection refused (is the process running?)`) : e));
    req.end();
  });
}

/** The figures of one moment: sums over every endpoint, by sample name (a histogram's `x_count`, `x_sum`). */
export class Sample {
  private readonly samples = new Map<string, PromSample[]>();

  constructor(
    readonly at: number,
    families: PromFamily[],
  ) {
    for (const f of families) {
      for (const s of f.samples) {
        const list = this.samples.get(s.name);
        if (list) list.push(s);
        else this.samples.set(s.name, [s]);
      }
    }
  }

  static async take(addresses: string[]): Promise<Sample> {
    const texts = await Promise.all(addresses.map((a) => scrape(a)));
    return new Sample(performance.now(), texts.flatMap((t) => parseMetrics(t)));
  }

  /** Sum of the samples of this name whose labels match. */
  value(name: string, where: Record<string, string> = {}): number {
    let n = 0;
    for (const s of this.samples.get(name) ?? []) if (matches(s.labels, where)) n += s.value;
    return n;
  }

  /** A histogram's operations and their total seconds, over all operations or matching labels. */
  histogram(name: string, where: Record<string, string> = {}): { count: number; sum: number } {
    return { count: this.value(`${name}_count`, where), sum: this.value(`${name}_sum`, where) };
  }
}

function matches(labels: Record<string, string>, where: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(where)) if (labels[k] !== v) return false;
  return true;
}
