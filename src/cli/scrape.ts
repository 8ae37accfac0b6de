// Reading FerryFS metrics endpoints for `ferry stats`: which endpoints a target names (a mount point, a
// metadata URL, or HOST:PORT), one scrape of each parsed with parse-prometheus-text-format, and the sums the
// stats view shows. Several endpoints (every process of a volume) add up.
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/** One metric family as parse-prometheus-text-format returns it. */
interface Family {
  name: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ value?: string; labels?: Record<string, string>; count?: string; sum?: string; buckets?: Record<string, string> }>;
}

const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** Parses the text exposition format (throws on text that is not). */
export function parseMetrics(text: string): Family[] {
  return parseText(text);
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
      return (await meta.listSessions()).filter((s) => typeof s.metrics === 'string' && now - s.heartbeat < SESSION_TIMEOUT_MS).map((s) => s.metrics as string);
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

/** The figures of one moment: sums over every endpoint, by metric (histograms: count and sum). */
export class Sample {
  constructor(
    readonly at: number,
    private readonly families: Family[],
  ) {}

  static async take(addresses: string[]): Promise<Sample> {
    const texts = await Promise.all(addresses.map((a) => scrape(a)));
    return new Sample(performance.now(), texts.flatMap((t) => parseMetrics(t)));
  }

  /** Sum of a counter's or gauge's samples, optionally only those whose labels match. */
  value(name: string, where: Record<string, string> = {}): number {
    let n = 0;
    for (const f of this.families) {
      if (f.name !== name) continue;
      for (const m of f.metrics) if (matches(m.labels, where)) n += Number(m.value ?? 0);
    }
    return n;
  }

  /** A histogram's operations and their total seconds, over all operations or matching labels. */
  histogram(name: string, where: Record<string, string> = {}): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    for (const f of this.families) {
      if (f.name !== name) continue;
      for (const m of f.metrics) {
        if (!matches(m.labels, where)) continue;
        count += Number(m.count ?? 0);
        sum += Number(m.sum ?? 0);
      }
    }
    return { count, sum };
  }

  /** Values of one label of a metric (e.g. the FUSE operations seen). */
  labelValues(name: string, label: string): string[] {
    const out = new Set<string>();
    for (const f of this.families) if (f.name === name) for (const m of f.metrics) if (m.labels?.[label] !== undefined) out.add(m.labels[label]!);
    return [...out].sort();
  }
}

function matches(labels: Record<string, string> | undefined, where: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(where)) if (labels?.[k] !== v) return false;
  return true;
}
