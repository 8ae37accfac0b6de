// The dashboard's HTTP server: the page (ui/, Preact + htm as ES modules straight from node_modules, no build
// step) and the JSON API behind it (docs/dashboard.md). Each volume's metadata is opened once and kept; a
// volume that cannot be opened or read is shown with its error and tried again at the next refresh. Reads
// are shared: concurrent requests (several browsers) wait for one read, reused for a second.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Meta } from '../meta/interface.js';
import { serviceSecretsOf, serviceServer, type TlsFiles } from '../meta/service-auth.js';
import type { ServiceSecrets } from '../meta/types.js';
import { basicPassword, tokenMatches } from './auth.js';
import { readVolume, trashSummary, unreachableView, type TrashSummary, type VolumeView } from './data.js';
import { otherPvs, pvsOf, readCluster, type Cluster } from './kube.js';

export interface DashboardVolume {
  /** Shown while the metadata cannot be opened (redacted). */
  url: string;
  open: () => Promise<Meta>;
}

export interface DashboardOptions {
  volumes: DashboardVolume[];
  kubeconfig?: string;
  /** Require each volume's dashboard token (auth.ts): set when listening beyond loopback. */
  auth: boolean;
  tls?: TlsFiles;
  /** Seconds between the page's refreshes (the page's default; ?refresh=N overrides). */
  refreshSeconds?: number;
  /** How long one read of a volume or the cluster is reused (ms). */
  reuseMs?: number;
}

const UI = new URL('../../../src/dashboard/ui/', import.meta.url);

/** The ES modules the page imports, by the names its import map gives them. */
const VENDOR: Record<string, string> = {
  'preact.mjs': 'preact',
  'hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
};

type Unreachable = ReturnType<typeof unreachableView>;

export const TRASH_REUSE_MS = 30_000;

/** One value computed at a time and reused for `ttl` ms. */
class Shared<T> {
  private last?: { at: number; value: T };
  private running?: Promise<T>;
  constructor(private readonly ttl: number, private readonly fn: () => Promise<T>) {}
  get(): Promise<T> {
    if (this.last && Date.now() - this.last.at < this.ttl) return Promise.resolve(this.last.value);
    this.running ??= this.fn()
      .then((value) => ((this.last = { at: Date.now(), value }), value))
      .finally(() => (this.running = undefined));
    return this.running;
  }
}

class VolumeSource {
  meta?: Meta;
  private opening?: Promise<Meta>;
  private secrets?: { value: ServiceSecrets | undefined; at: number };
  readonly view: Shared<VolumeView | Unreachable>;
  /** The trash is a walk of every entry: summed at most every TRASH_REUSE_MS (deletions are rarely urgent). */
  private readonly trash: Shared<TrashSummary>;

  constructor(readonly id: number, readonly v: DashboardVolume, reuseMs: number) {
    this.view = new Shared(reuseMs, () => this.read());
    this.trash = new Shared(Math.max(reuseMs, TRASH_REUSE_MS), async () => trashSummary(await this.metaOf()));
  }

  private async metaOf(): Promise<Meta> {
    if (this.meta) return this.meta;
    this.opening ??= this.v.open().finally(() => (this.opening = undefined));
    this.meta = await this.opening;
    return this.meta;
  }

  private async read(): Promise<VolumeView | Unreachable> {
    try {
      return await readVolume(this.id, await this.metaOf(), { trash: () => this.trash.get() });
    } catch (e) {
      return unreachableView(this.id, this.meta?.url ?? this.v.url, e);
    }
  }

  /** The volume's service secrets (read at most every 2 s; creates the first one, as every service does). */
  async serviceSecrets(): Promise<ServiceSecrets | undefined> {
    if (this.secrets && Date.now() - this.secrets.at < 2000) return this.secrets.value;
    const value = await serviceSecretsOf(await this.metaOf());
    this.secrets = { value, at: Date.now() };
    return value;
  }

  async close(): Promise<void> {
    await this.meta?.close().catch(() => undefined);
  }
}

export class Dashboard {
  private server?: Server;
  private readonly sources: VolumeSource[];
  private readonly cluster?: Shared<Cluster>;
  private readonly page: { html: string; csp: string };

  constructor(private readonly opts: DashboardOptions) {
    const reuse = opts.reuseMs ?? 1000;
    this.sources = opts.volumes.map((v, i) => new VolumeSource(i, v, reuse));
    if (opts.kubeconfig) {
      const file = opts.kubeconfig;
      this.cluster = new Shared(Math.max(reuse, 2000), () => readCluster(file));
    }
    this.page = pageOf(opts.refreshSeconds ?? 5);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.server = serviceServer((req, res) => void this.handle(req, res), this.opts.tls, 5000);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
    await Promise.all(this.sources.map((s) => s.close()));
  }

  /** The volumes this request may see: all on loopback, else those whose token it presents. */
  private async visible(req: IncomingMessage): Promise<VolumeSource[] | undefined> {
    if (!this.opts.auth) return this.sources;
    const password = basicPassword(req.headers.authorization);
    if (!password) return undefined;
    const ok: VolumeSource[] = [];
    for (const s of this.sources) {
      const secrets = await s.serviceSecrets().catch(() => undefined);
      if (tokenMatches(password, secrets)) ok.push(s);
    }
    return ok.length ? ok : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://dashboard');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'the dashboard only reads: GET' }, { allow: 'GET, HEAD' });
      const path = url.pathname;
      if (path === '/healthz') return send(res, 200, { ok: true });
      const sources = await this.visible(req);
      if (!sources) {
        return send(res, 401, { error: "authentication required: HTTP basic with the volume's dashboard token as password (ferry dashboard --print-token META-URL)" }, { 'www-authenticate': 'Basic realm="FerryFS dashboard", charset="UTF-8"' });
      }
      if (path === '/' || path === '/index.html') return sendText(res, 200, this.page.html, 'text/html; charset=utf-8', { 'content-security-policy': this.page.csp });
      if (path.startsWith('/ui/')) return this.file(res, new URL(path.slice(4), UI), UI.pathname);
      if (path.startsWith('/vendor/')) {
        const spec = VENDOR[path.slice(8)];
        return spec ? this.file(res, new URL(import.meta.resolve(spec))) : send(res, 404, { error: `no such file: ${path}` });
      }
      if (path === '/api/volumes') return send(res, 200, await this.volumes(sources));
      const m = /^\/api\/volumes\/(\d+)$/.exec(path);
      if (m) {
        const s = sources.find((x) => x.id === Number(m[1]));
        if (!s) return send(res, 404, { error: `no volume ${m[1]} (GET /api/volumes lists them)` });
        return send(res, 200, await this.volume(s));
      }
      if (path === '/api/kubernetes') {
        if (!this.cluster) return send(res, 404, { error: 'the dashboard was started without --kubeconfig' });
        const [c, views] = await Promise.all([this.cluster.get(), Promise.all(sources.map((s) => s.view.get()))]);
        const read = views.filter((v): v is VolumeView => !('error' in v));
        return send(res, 200, { readAt: c.readAt, error: c.error, volumes: read.map((v) => ({ id: v.id, name: v.name, pvs: pvsOf(c, v) })), other: otherPvs(c, read) });
      }
      return send(res, 404, { error: `no such page: ${path}` });
    } catch (e) {
      send(res, 500, { error: (e as Error).message.split('\n')[0] });
    }
  }

  /** Every visible volume, in the order given: its view (as GET /api/volumes/ID) or its error. */
  private async volumes(sources: VolumeSource[]) {
    const views = await Promise.all(sources.map((s) => this.volume(s)));
    return { readAt: Date.now(), kubernetes: !!this.cluster, volumes: views };
  }

  /** One volume's view, with its Kubernetes PVs when --kubeconfig was given. */
  private async volume(s: VolumeSource) {
    const view = await s.view.get();
    if (!this.cluster || 'error' in view) return view;
    const c = await this.cluster.get();
    const pvs = pvsOf(c, view);
    return { ...view, kubernetes: { readAt: c.readAt, error: c.error, pvs }, tips: [...view.tips, ...pvs.flatMap((p) => p.tips)] };
  }

  /** A file of the page (`under`: the folder a request's path must stay in) or a vendor module. */
  private file(res: ServerResponse, file: URL, under?: string): void {
    if (under && !file.pathname.startsWith(under)) return send(res, 404, { error: 'no such file' });
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      return send(res, 404, { error: `no such file: ${file.pathname.split('/').pop()}` });
    }
    const type = /\.m?js$/.test(file.pathname) ? 'text/javascript; charset=utf-8' : file.pathname.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/octet-stream';
    sendText(res, 200, body, type, { 'cache-control': 'max-age=300' });
  }
}

/** index.html with the refresh period, and a CSP allowing only this origin and the page's import map. */
function pageOf(refreshSeconds: number): { html: string; csp: string } {
  const html = readFileSync(new URL('index.html', UI), 'utf8').replace('__REFRESH_SECONDS__', String(refreshSeconds));
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
  const hash = createHash('sha256').update(map).digest('base64');
  return { html, csp: `default-src 'self'; script-src 'self' 'sha256-${hash}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'` };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8', { 'cache-control': 'no-store', ...headers });
}

function sendText(res: ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
