// Waiting for a mirror to reach a version: ask the replicator, which answers the moment it applies it
// (a long poll, no busy loop). Without a reachable replicator, poll the mirror's counter with backoff.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Meta } from '../meta/interface.js';
import { APPLIED_COUNTER } from '../meta/base/core.js';
import { secretFromFormat, serviceAgent, signRequest, tlsFromEnv, type ServiceCredential } from '../meta/service-auth.js';

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

/** The mirror volume's service secret, per Meta (its format record, re-read after a rotation). */
const credentials = new WeakMap<Meta, ServiceCredential>();

function credentialOf(mirror: Meta): ServiceCredential {
  let c = credentials.get(mirror);
  if (!c) credentials.set(mirror, (c = secretFromFormat(mirror)));
  return c;
}

async function longPoll(mirror: Meta, addr: string, v: number, timeoutMs: number): Promise<number> {
  try {
    return await poll(addr, v, timeoutMs, await credentialOf(mirror).secret());
  } catch (e) {
    // Refused: the secret may have been rotated since it was read.
    if ((e as { status?: number }).status === 403 && (await credentialOf(mirror).refresh())) return poll(addr, v, timeoutMs, await credentialOf(mirror).secret());
    throw e;
  }
}

function poll(addr: string, v: number, timeoutMs: number, secret: string | undefined): Promise<number> {
  const path = `/wait?version=${v}&timeout=${timeoutMs}`;
  const tls = addr.startsWith('https:');
  const request = tls ? httpsRequest : httpRequest;
  const headers = secret ? { authorization: signRequest(secret, 'GET', path) } : {};
  return new Promise((resolve, reject) => {
    const req = request(`${addr}${path}`, { agent: tls ? serviceAgent(true, tlsFromEnv(), { keepAlive: false }) : false, timeout: timeoutMs + 1000, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        if (res.statusCode === 401 || res.statusCode === 403) {
          return reject(Object.assign(new Error(`replicator ${addr} refused the wait (${res.statusCode}): ${body}`), { status: res.statusCode }));
        }
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

/** When each replicator's refusal was last told (see waitForVersion). */
const refusalsTold = new Map<string, number>();

/** The mirror's applied version once it is >= v, or whatever it is after timeoutMs. */
export async function waitForVersion(mirror: Meta, v: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const addr = await replicatorAddress(mirror);
  if (addr) {
    try {
      return await longPoll(mirror, addr, v, timeoutMs);
    } catch (e) {
      addresses.delete(mirror); // moved or gone: look again next time
      // A refusal is a misconfiguration (a secret or certificate the replicator does not take), not a restart:
      // say so, once a minute per replicator, since every write through the mirror now waits by polling.
      if ([401, 403].includes((e as { status?: number }).status ?? 0) && Date.now() - (refusalsTold.get(addr) ?? 0) > 60_000) {
        refusalsTold.set(addr, Date.now());
        process.stderr.write(`ferry: ${(e as Error).message.trim()}; waiting by polling the mirror instead (slower): check the service secret\n`);
      }
    }
  }
  let applied = await mirror.getCounter(APPLIED_COUNTER);
  for (let wait = 1; applied < v && Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
    await sleep(wait);
    applied = await mirror.getCounter(APPLIED_COUNTER);
  }
  return applied;
}
