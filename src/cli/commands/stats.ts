// ferry stats MOUNTPOINT|META-URL|HOST:PORT [--interval S] [--count N] [--json]: a live view of the metrics
// of a mount (or of every process of a volume serving metrics, added up), one line per interval as
// `juicefs stats` prints them, from the same endpoints Prometheus scrapes.
import { UsageError, flag, str, type Command, type Parsed } from '../args.js';
import { out } from '../output.js';

const command: Command = {
  spec: {
    name: 'stats',
    summary: 'Show live metrics of a mount, a volume\'s processes, or a metrics address (like top).',
    usage: 'MOUNTPOINT|META-URL|HOST:PORT',
    description: [
      'Reads the Prometheus metrics that `--metrics HOST:PORT` serves (mounts, gateways, meta-servers, mirror',
      'replicators, cache members) and prints one line per interval: CPU and memory, FUSE, S3 and metadata',
      'operations per second with their mean latency, object store requests and bytes, cache hits and misses,',
      'write-back backlog and mirror lag. MOUNTPOINT reads the address the mount recorded; META-URL adds up every',
      'live session of the volume that serves metrics (their session records hold the addresses).',
      'With --json, one JSON document per interval (with --count 1: one document).',
    ].join('\n'),
    examples: ['ferry stats /mnt/ferry', 'ferry stats --count 5 sqlite3://ferry-data/meta.db', 'ferry stats --json --count 1 127.0.0.1:9567'],
    options: {
      interval: { type: 'string', arg: 'SECONDS', help: 'seconds between lines (default 1)' },
      count: { type: 'string', arg: 'N', help: 'stop after N lines (default: until Ctrl-C)' },
      json: { type: 'boolean', help: 'print JSON documents instead of lines' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [target] = p.args as [string];
    const interval = Number(str(p, 'interval') ?? '1');
    if (!Number.isFinite(interval) || interval <= 0 || interval > 3600) throw new UsageError(`--interval: '${str(p, 'interval')}' is not a number of seconds in (0, 3600]`);
    const countRaw = str(p, 'count');
    const count = countRaw === undefined ? Infinity : Number(countRaw);
    if (countRaw !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count: '${countRaw}' is not a whole number of at least 1`);
    const json = flag(p, 'json');
    const { Sample, resolveTarget } = await import('../scrape.js');
    const t = await resolveTarget(target);
    let stop = false;
    const onSig = () => void (stop = true);
    process.once('SIGINT', onSig);
    let prev = await Sample.take(t.addresses);
    try {
      for (let i = 0; i < count && !stop; i++) {
        await new Promise((r) => setTimeout(r, interval * 1000));
        const cur = await Sample.take(t.addresses);
        const row = figures(prev, cur);
        prev = cur;
        if (json) await out(JSON.stringify({ target: t.label, endpoints: t.addresses, time: new Date().toISOString(), ...row }) + '\n');
        else await out((i % 20 === 0 ? header() : '') + line(row) + '\n');
      }
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};

export default command;

type Sample = import('../scrape.js').Sample;

/** Per-second figures between two samples, plus the gauges of the later one. */
function figures(a: Sample, b: Sample) {
  const dt = Math.max(1e-3, (b.at - a.at) / 1000);
  const rate = (name: string, where?: Record<string, string>) => Math.max(0, (b.value(name, where) - a.value(name, where)) / dt);
  const ops = (name: string) => {
    const x = a.histogram(name);
    const y = b.histogram(name);
    const n = Math.max(0, y.count - x.count);
    return { total: y.count, perSec: n / dt, avgMs: n ? ((y.sum - x.sum) / n) * 1000 : 0 };
  };
  const hits = rate('ferry_cache_hits_total');
  const misses = rate('ferry_cache_misses_total');
  return {
    interval: dt,
    usage: { cpuPercent: rate('process_cpu_seconds_total') * 100, memoryBytes: b.value('process_resident_memory_bytes'), openFiles: b.value('ferry_open_files') },
    fuse: { ...ops('ferry_fuse_op_duration_seconds'), errorsPerSec: rate('ferry_fuse_op_errors_total') },
    gateway: { ...ops('ferry_gateway_request_duration_seconds'), inFlight: b.value('ferry_gateway_requests_in_flight') },
    meta: { ...ops('ferry_meta_op_duration_seconds'), errorsPerSec: rate('ferry_meta_op_errors_total') },
    object: {
      ...ops('ferry_object_request_duration_seconds'),
      errorsPerSec: rate('ferry_object_request_errors_total'),
      getBytesPerSec: rate('ferry_object_bytes_total', { op: 'get' }),
      putBytesPerSec: rate('ferry_object_bytes_total', { op: 'put' }) + rate('ferry_object_bytes_total', { op: 'uploadPart' }),
    },
    cache: {
      hitsPerSec: hits,
      missesPerSec: misses,
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : 0,
      hitBytesPerSec: rate('ferry_cache_hit_bytes_total'),
      usedBytes: b.value('ferry_cache_used_bytes'),
      writebackPendingBlocks: b.value('ferry_writeback_pending_blocks'),
      groupBytesInPerSec: rate('ferry_cache_group_bytes_total', { direction: 'received' }),
      groupBytesOutPerSec: rate('ferry_cache_group_bytes_total', { direction: 'sent' }),
    },
    mirror: { lagVersions: b.value('ferry_mirror_lag_versions'), lagSeconds: b.value('ferry_mirror_lag_seconds') },
  };
}

type Row = ReturnType<typeof figures>;

const COLS: Array<[string, number]> = [
  ['cpu', 5], ['mem', 6], ['|fuse ops', 9], ['lat', 7], ['|s3 req', 7], ['lat', 7], ['|meta ops', 9], ['lat', 7],
  ['|obj req', 8], ['get', 7], ['put', 7], ['|hit', 6], ['miss', 6], ['hit%', 5], ['|wb', 5], ['|lag', 5],
];

function header(): string {
  return COLS.map(([h, w]) => h.padStart(w)).join(' ') + '\n';
}

function line(r: Row): string {
  const n = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const ms = (x: number) => `${n(x)}ms`;
  const bytes = (x: number) => {
    let u = 0;
    while (x >= 1024 && u < 4) (x /= 1024), u++;
    return `${u ? n(x) : Math.round(x)}${'BKMGT'[u]}`;
  };
  const cells = [
    `${r.usage.cpuPercent.toFixed(1)}%`, bytes(r.usage.memoryBytes),
    n(r.fuse.perSec), ms(r.fuse.avgMs), n(r.gateway.perSec), ms(r.gateway.avgMs), n(r.meta.perSec), ms(r.meta.avgMs),
    n(r.object.perSec), bytes(r.object.getBytesPerSec), bytes(r.object.putBytesPerSec),
    n(r.cache.hitsPerSec), n(r.cache.missesPerSec), `${Math.round(r.cache.hitRatio * 100)}%`, String(r.cache.writebackPendingBlocks), String(r.mirror.lagVersions),
  ];
  return cells.map((c, i) => c.padStart(COLS[i]![1])).join(' ');
}
