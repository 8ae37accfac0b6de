// The replicator's wait endpoint: GET /wait?version=V&timeout=MS answers {applied} as soon as the mirror
// has applied V (or when the timeout passes); GET /status answers the replicator's state. Every request is
// signed with the mirror volume's service secret (meta/service-auth.ts); others get 401/403.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serviceServer, ServiceVerifier, type TlsFiles } from '../meta/service-auth.js';
import type { ServiceSecrets } from '../meta/types.js';

interface Waiter {
  version: number;
  done: (applied: number) => void;
}

export class WaitServer {
  private readonly server: Server;
  private waiters: Waiter[] = [];
  private applied = 0;
  private readonly verifier: ServiceVerifier;
  private readonly tls: boolean;

  constructor(private readonly status: () => object, secrets: () => Promise<ServiceSecrets | undefined>, tls?: TlsFiles) {
    this.verifier = new ServiceVerifier(secrets);
    this.tls = !!tls?.cert;
    this.server = serviceServer((req, res) => {
      const reply = (code: number, body: object) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      // GET requests have no body: the credential is checked before anything else.
      this.verifier.verify(req.method ?? '', req.url ?? '', req.headers.authorization).then(
        (refused) => (refused ? reply(refused.status, { error: refused.message }) : this.answer(req.url ?? '/', reply)),
        (e: Error) => reply(500, { error: `cannot check the credential: ${e.message}` }),
      );
    }, tls);
  }

  private answer(path: string, reply: (code: number, body: object) => void): void {
    const url = new URL(path, 'http://x');
    if (url.pathname === '/status') return reply(200, { applied: this.applied, ...this.status() });
    if (url.pathname !== '/wait') return reply(404, { error: 'not found' });
    const version = Number(url.searchParams.get('version'));
    const timeout = Math.min(Number(url.searchParams.get('timeout') ?? 5000), 60_000);
    if (!Number.isFinite(version)) return reply(400, { error: 'version required' });
    if (this.applied >= version) return reply(200, { applied: this.applied });
    const w: Waiter = { version, done: (applied) => reply(200, { applied }) };
    const t = setTimeout(() => {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.done(this.applied);
    }, timeout);
    w.done = ((d) => (applied: number) => {
      clearTimeout(t);
      d(applied);
    })(w.done);
    this.waiters.push(w);
  }

  async listen(host: string, port: number): Promise<string> {
    await this.verifier.prime();
    // A busy port is an error of listen(), not an 'error' event nobody handles (a crash with a trace).
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    return `${this.tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** The mirror reached `applied`: answer everyone waiting for it. */
  advance(applied: number): void {
    this.applied = applied;
    const ready = this.waiters.filter((w) => w.version <= applied);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => w.version > applied);
    for (const w of ready) w.done(applied);
  }

  close(): Promise<void> {
    for (const w of this.waiters) w.done(this.applied);
    this.waiters = [];
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
