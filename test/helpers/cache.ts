// Helpers for the cache tests and bench:cache: an object store scheme `probe://ID` that wraps a real store
// (file:// or mem://) and counts gets, can be made to fail (the object store "unreachable") and can delay
// every request (latency + bandwidth cap, a stand-in for a remote store); and `ferry cache serve` processes.
import { ferryServe, MAIN, type Served } from './serve.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MARKER_NAME } from '../../src/client/marker.js';
import { openObjectStore, registerObjectStore, type ObjectStore } from '../../src/object/index.js';
import { CachedObjectStore } from '../../src/cache/store.js';
import { sleep } from './wait.js';
import { vfsOf } from './volume.js';
import type { Volume } from '../../src/sdk/index.js';

export interface Probe {
  /** The store every probe://ID opens wrap. */
  inner: string;
  gets: number;
  getBytes: number;
  /** Gets per key. */
  perKey: Map<string, number>;
  /** When set, every operation fails (as if the store were unreachable). */
  failing: boolean;
  /** Added to every get. */
  latencyMs: number;
  /** Bytes per second of all gets together (0 = unlimited). */
  bandwidth: number;
}

const probes = new Map<string, Probe>();
let registered = false;
/** When the shared link is free again (bandwidth cap across all gets of one probe). */
const linkFree = new Map<string, number>();

/** Ids of the probes made so far, oldest first. */
export function probeIds(): string[] {
  return [...probes.keys()];
}

/** A probe over `inner`; format a volume with storage `probe://<id>`. */
export function newProbe(id: string, inner: string, o: Partial<Pick<Probe, 'latencyMs' | 'bandwidth'>> = {}): Probe {
  register();
  const p: Probe = { inner, gets: 0, getBytes: 0, perKey: new Map(), failing: false, latencyMs: o.latencyMs ?? 0, bandwidth: o.bandwidth ?? 0 };
  probes.set(id, p);
  return p;
}

function register(): void {
  if (registered) return;
  registered = true;
  registerObjectStore('probe', async (url) => {
    const id = url.hostname || url.pathname.replace(/^\/+/, '');
    const p = probes.get(id);
    if (!p) throw new Error(`no probe ${id}`);
    const inner = await openObjectStore(p.inner);
    return probeStore(id, p, inner);
  });
}

function unreachable(): Error {
  return Object.assign(new Error('object store unreachable (probe failing)'), { code: 'ECONNREFUSED' });
}

function probeStore(id: string, p: Probe, inner: ObjectStore): ObjectStore {
  const check = () => {
    if (p.failing) throw unreachable();
  };
  return {
    url: `probe://${id}`,
    create: () => inner.create(),
    async put(key, data) {
      check();
      return inner.put(key, data);
    },
    async get(key, off, len) {
      check();
      // Every client reads the store marker when it opens the volume: that is not block traffic.
      if (key.endsWith(`/${MARKER_NAME}`)) return inner.get(key, off, len);
      p.gets++;
      p.perKey.set(key, (p.perKey.get(key) ?? 0) + 1);
      if (p.latencyMs) await sleep(p.latencyMs);
      const data = await inner.get(key, off, len);
      p.getBytes += data.length;
      if (p.bandwidth > 0) {
        // One shared link: each get waits for the bytes before it, then takes its own share.
        const now = Date.now();
        const start = Math.max(now, linkFree.get(id) ?? 0);
        const end = start + (data.length * 1000) / p.bandwidth;
        linkFree.set(id, end);
        if (end > now) await sleep(end - now);
      }
      return data;
    },
    async head(key) {
      check();
      return inner.head(key);
    },
    async delete(key) {
      check();
      return inner.delete(key);
    },
    list: (prefix, marker, limit) => (check(), inner.list(prefix, marker, limit)),
    listAll: (prefix) => inner.listAll(prefix),
    close: () => inner.close(),
  };
}

export { MAIN };
export type { Served as Server };

/** Starts `ferry cache serve` and waits for its "serving ... at ADDR" line. */
export function cacheServe(metaUrl: string, args: string[]): Promise<Served> {
  return ferryServe(['cache', 'serve', metaUrl, ...args], / at (\S+) \(cache /, { FERRY_DEBUG: '1' });
}

/** The cache of a volume's chunk store, as the cache layer's class (tests look at its disk, group, stats). */
export function cacheOf(v: Volume): CachedObjectStore {
  const c = vfsOf(v).store.cache;
  if (!(c instanceof CachedObjectStore)) throw new Error('the volume has no block cache');
  return c;
}
