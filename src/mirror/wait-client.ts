// Waiting for a mirror to reach a version: ask the replicator, which answers the moment it applies it
// (a long poll, no busy loop). Without a reachable replicator, poll the mirror's counter with backoff.
import { request } from 'node:http';
import type { Meta } from '../meta/interface.js';
import { APPLIED_COUNTER } from '../meta/base/core.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the replicator of this mirror listens, from its session (cached per Meta for a few seconds). */
const addresses = new WeakMap<Meta, { addr?: string; until: number }>();

async function replicatorAddress(mirror: Meta): Promise<string | undefined> {
  const hit = addresses.get(mirror);
  if (hit && hit.until > Date.now()) return hit.addr;
  const s = (await mirror.listSessions()).find((x) => typeof x.mirrorWait === 'string');
  const addr = s?.mirrorWait as string | undefined;
  addresses.set(mirror, { addr, until: Date.now() + 5000 });
  return addr;
}

function longPoll(addr: string, v: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${addr}/wait?version=${v}&timeout=${timeoutMs}`, { agent: false, timeout: timeoutMs + 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const applied = Number(JSON.parse(body || '{}').applied);
        if (Number.isFinite(applied)) resolve(applied);
        else reject(new Error(`bad answer from replicator: ${body}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('replicator timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The mirror's applied version once it is >= v, or whatever it is after timeoutMs. */
export async function waitForVersion(mirror: Meta, v: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const addr = await replicatorAddress(mirror);
  if (addr) {
    try {
      return await longPoll(addr, v, timeoutMs);
    } catch {
      addresses.delete(mirror); // moved or gone: look again next time
    }
  }
  let applied = await mirror.getCounter(APPLIED_COUNTER);
  for (let wait = 1; applied < v && Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
    await sleep(wait);
    applied = await mirror.getCounter(APPLIED_COUNTER);
  }
  return applied;
}
