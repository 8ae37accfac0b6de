// Prometheus metrics of one process (`--metrics HOST:PORT` on every long-running command), with prom-client.
// One registry per process, created on first use: prom-client (~100 ms to load) is imported only by a process
// that asks for metrics, and a client without them pays nothing (no decorator, no proxy, no timer).
// It lives in the lowest layer that has operations to count so that every layer above can feed it:
//  - timed operations (FUSE, S3, metadata, object store): a histogram per operation, its `_count` the number
//    of operations, plus an errors counter;
//  - polled metrics: counters and gauges kept by the components themselves (cache hits, write-back queue,
//    group traffic, replication progress) are read at scrape time only, summed over the components that
//    registered a reader (a process may run several clients), so the hot paths keep their plain counters.
// The names are listed in the README ("Metrics") and used by docs/grafana-ferryfs.json and `ferry stats`.
import { createServer, type Server } from 'node:http';
import type * as Prom from 'prom-client';
import { FERRY_VERSION } from '../version.js';

type PromModule = typeof Prom;

/** Latency buckets in seconds: 100 µs to ~6.5 s, doubling (FUSE and metadata operations are mostly sub-ms). */
const BUCKETS = Array.from({ length: 17 }, (_, i) => 0.0001 * 2 ** i);

/** One kind of timed operation: `<prefix>_duration_seconds{op}` and `<prefix>_errors_total{op}`. */
export class OpTimer {
  private readonly children = new Map<string, Prom.Histogram.Internal<'op'>>();

  constructor(
    private readonly hist: Prom.Histogram<'op'>,
    private readonly errors: Prom.Counter<'op'>,
  ) {}

  /** Records one operation of `seconds`; `failed` counts it as an error too. */
  observe(op: string, seconds: number, failed = false): void {
    let c = this.children.get(op);
    if (!c) this.children.set(op, (c = this.hist.labels(op)));
    c.observe(seconds);
    if (failed) this.errors.inc({ op });
  }

  /** Times a promise-returning call (a synchronous result or throw is timed too). */
  time<T>(op: string, run: () => T): T {
    const t0 = performance.now();
    let r: T;
    try {
      r = run();
    } catch (e) {
      this.observe(op, (performance.now() - t0) / 1000, true);
      throw e;
    }
    if (r && typeof (r as { then?: unknown }).then === 'function') {
      (r as unknown as Promise<unknown>).then(
        () => this.observe(op, (performance.now() - t0) / 1000),
        () => this.observe(op, (performance.now() - t0) / 1000, true),
      );
    } else this.observe(op, (performance.now() - t0) / 1000);
    return r;
  }
}

/** A metric whose value is read from components at scrape time. */
export interface PolledDef {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels?: readonly string[];
}

/** A number, or values by label set (label values in the order of the definition's `labels`). */
export type Reading = number | Array<[readonly string[], number]>;

export class FerryMetrics {
  readonly registry: Prom.Registry;
  /** FUSE requests by operation (lookup, getattr, read, ...). */
  readonly fuse: OpTimer;
  /** Metadata operations by Meta method (as the client, the meta-server or a mirror calls them). */
  readonly meta: OpTimer;
  /** Object store requests by operation (get, put, head, delete, list, ...), below the caches. */
  readonly object: OpTimer;
  /** Bytes moved to and from the object store, by operation (get, put, uploadPart). */
  readonly objectBytes: Prom.Counter<'op'>;
  /** S3 requests of the gateway, by operation and HTTP status. */
  readonly s3Requests: Prom.Counter<'operation' | 'status'>;
  readonly s3Duration: Prom.Histogram<'operation'>;
  private readonly polled = new Map<string, Set<() => Reading>>();

  constructor(private readonly prom: PromModule) {
    const registry = (this.registry = new prom.Registry());
    const reg = [registry];
    prom.collectDefaultMetrics({ register: registry });
    new prom.Gauge({ name: 'ferry_build_info', help: 'FerryFS version of this process.', labelNames: ['version'], registers: reg }).set({ version: FERRY_VERSION }, 1);
    const timer = (prefix: string, what: string) =>
      new OpTimer(
        new prom.Histogram({ name: `${prefix}_duration_seconds`, help: `${what}: time taken, by operation (_count: operations).`, labelNames: ['op'], buckets: BUCKETS, registers: reg }),
        new prom.Counter({ name: `${prefix}_errors_total`, help: `${what} that failed, by operation.`, labelNames: ['op'], registers: reg }),
      );
    this.fuse = timer('ferry_fuse_op', 'FUSE requests');
    this.meta = timer('ferry_meta_op', 'Metadata operations');
    this.object = timer('ferry_object_request', 'Object store requests');
    this.objectBytes = new prom.Counter({ name: 'ferry_object_bytes_total', help: 'Bytes moved to (put, uploadPart) and from (get) the object store.', labelNames: ['op'], registers: reg });
    this.s3Requests = new prom.Counter({ name: 'ferry_gateway_requests_total', help: 'S3 requests handled, by operation and HTTP status.', labelNames: ['operation', 'status'], registers: reg });
    this.s3Duration = new prom.Histogram({ name: 'ferry_gateway_request_duration_seconds', help: 'S3 requests: time taken, by operation.', labelNames: ['operation'], buckets: BUCKETS, registers: reg });
  }

  /**
   * Adds a reader to a polled metric (defined on first use); the metric's value is the sum over its readers.
   * Returns the function that removes the reader (when the component closes).
   */
  poll(def: PolledDef, read: () => Reading): () => void {
    let readers = this.polled.get(def.name);
    if (!readers) {
      const set = (readers = new Set());
      this.polled.set(def.name, set);
      const labelNames = [...(def.labels ?? [])];
      const G = this.prom.Gauge;
      const collect = function (this: Prom.Gauge<string> | Prom.Counter<string>) {
        const sums = new Map<string, [readonly string[], number]>();
        for (const r of set) {
          let v: Reading;
          try {
            v = r();
          } catch {
            continue; // a component closing meanwhile: its reading is simply left out
          }
          for (const [labels, n] of typeof v === 'number' ? [[[], v] as [readonly string[], number]] : v) {
            const k = labels.join('\0');
            const cur = sums.get(k);
            if (cur) cur[1] += n;
            else sums.set(k, [labels, n]);
          }
        }
        this.reset();
        for (const [labels, n] of sums.values()) {
          const l = Object.fromEntries(labelNames.map((name, i) => [name, labels[i] ?? '']));
          if (this instanceof G) this.set(l, n);
          else this.inc(l, n);
        }
      };
      const opts = { name: def.name, help: def.help, labelNames, registers: [this.registry], collect };
      if (def.type === 'counter') new this.prom.Counter(opts);
      else new this.prom.Gauge(opts);
    }
    readers.add(read);
    return () => void readers.delete(read);
  }

  /** The text exposition format (what Prometheus scrapes). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

let current: FerryMetrics | undefined;
let loading: Promise<FerryMetrics> | undefined;

/** This process's metrics, if something enabled them (doors check this at their dispatch: undefined costs nothing). */
export function activeMetrics(): FerryMetrics | undefined {
  return current;
}

/** This process's metrics, created (and prom-client loaded) on first call. */
export function enableMetrics(): Promise<FerryMetrics> {
  return (loading ??= import('prom-client').then((m) => {
    const prom = ((m as unknown as { default?: PromModule }).default ?? m) as PromModule;
    return (current = new FerryMetrics(prom));
  }));
}

export interface MetricsEndpoint {
  /** HOST:PORT it listens on (the port bound when 0 was asked for). */
  readonly address: string;
  /** Stops listening; gently: the scrapes being answered finish first (a handover, the next process listens). */
  close(gently?: boolean): Promise<void>;
}

const endpoints = new Map<string, { server: Server; address: string; users: number }>();

/** Splits HOST:PORT ([v6]:PORT too); a bare PORT means 127.0.0.1. */
export function parseMetricsAddress(address: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`--metrics: '${address}' is not HOST:PORT`);
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1', port };
}

/**
 * Serves this process's metrics at http://ADDRESS/metrics (any path answers, as Prometheus only needs one).
 * Several clients of one process asking for the same address share one server. A busy port fails with one
 * line naming the flag.
 */
export async function serveMetrics(address: string, bind?: (server: Server, host: string, port: number, key: string) => Promise<void>): Promise<MetricsEndpoint> {
  const { host, port } = parseMetricsAddress(address);
  const m = await enableMetrics();
  const key = `${host}:${port}`;
  let ep = port !== 0 ? endpoints.get(key) : undefined;
  if (!ep) {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      m.text().then(
        (body) => res.writeHead(200, { 'Content-Type': m.contentType, 'Content-Length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body),
        (e: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${e.message}\n`),
      );
    });
    // bind: a door's (client/listen.ts), which takes the port over from the process an upgrade replaces.
    await (bind ? bind(server, host, port, `metrics ${address}`) : new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    })).catch((e: NodeJS.ErrnoException) => {
      throw new Error(e.code === 'EADDRINUSE' ? `--metrics ${address}: the port is already in use` : `--metrics ${address}: ${e.message}`);
    });
    server.unref();
    // A bind may listen later (a process succeeding another, client/listen.ts DeferredBinds): the address
    // is the one asked for until then.
    const boundAddress = () => {
      const a = server.address();
      return a && typeof a === 'object' ? (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : key;
    };
    ep = { server, get address() { return boundAddress(); }, users: 0 };
    endpoints.set(port !== 0 ? key : boundAddress(), ep);
  }
  ep.users++;
  const e = ep;
  let closed = false;
  return {
    get address() {
      return e.address;
    },
    close: async (gently = false) => {
      if (closed) return;
      closed = true;
      if (--e.users > 0) return;
      for (const [k, v] of endpoints) if (v === e) endpoints.delete(k);
      if (!e.server.listening) return;
      await new Promise<void>((resolve) => {
        e.server.close(() => resolve());
        if (!gently) return e.server.closeAllConnections();
        e.server.closeIdleConnections();
        setTimeout(() => e.server.closeAllConnections(), 1000).unref();
      });
    },
  };
}
