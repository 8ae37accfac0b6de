// One FerryFS client per metadata URL in a driver process, opened on first use and kept: CSI calls come
// one after another for the same few volumes, and opening a client (engine, store, session) costs more
// than the call.
import type { Client } from '../client/client.js';
import { clientConfigOf, metaUrlOf, type Secrets } from './secrets.js';

export class ClientCache {
  private readonly open = new Map<string, Promise<Client>>();

  constructor(
    private readonly keyDir: string,
    private readonly label: string,
  ) {}

  get(secrets: Secrets | undefined): Promise<Client> {
    const url = metaUrlOf(secrets);
    let c = this.open.get(url);
    if (!c) {
      c = (async () => {
        const cfg = await clientConfigOf(secrets, this.keyDir);
        const { openClient } = await import('../client/client.js');
        return openClient({ ...cfg, sessionLabel: this.label }, { log: () => undefined });
      })();
      this.open.set(url, c);
      c.catch(() => this.open.delete(url)); // a failure is not kept: the next call tries again
    }
    return c;
  }

  /** The clients opened so far (for Probe and ListVolumes). */
  async all(): Promise<Client[]> {
    const out: Client[] = [];
    for (const c of this.open.values()) {
      const client = await c.catch(() => undefined);
      if (client) out.push(client);
    }
    return out;
  }

  async close(): Promise<void> {
    const all = await this.all();
    this.open.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }
}
