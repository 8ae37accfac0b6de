// The serving process of a supervised mount (src/fuse/supervisor.ts starts it): serves the FUSE connection
// the supervisor holds (descriptor 3) until the mount ends, the supervisor asks it to hand over, or it dies.
// It talks to the supervisor over Node's IPC channel (ChildMessage / SupervisorMessage).
import { FERRY_VERSION } from '../version.js';
import type { ClientConfig } from '../client/index.js';
import type { ConnParams, InitRecord } from './addon.js';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { loadAddon } from './addon.js';
import { encode, type ControlMessage } from './handover.js';
import { listeningFds } from '../client/index.js';
import { dirname } from 'node:path';
import { metricsFileFor } from './daemon.js';
import { prepareNiced, serveAtNormalPriority } from './priority.js';
import { mountVolume, type Mounted } from './mount.js';
import { CONNECTION_FD, CONTROL_FD, type ChildMessage, type MountHistory, type SupervisorMessage } from './serve-messages.js';

const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ferry[${process.pid}]: ${l}\n`);

function send(m: ChildMessage): Promise<void> {
  return new Promise((res) => {
    if (!process.connected) return res();
    process.send!(m, undefined, {}, () => res());
  });
}

function initOf(x: { init: string; conn: ConnParams }): InitRecord {
  return { init: Buffer.from(x.init, 'base64'), conn: x.conn };
}

async function serving(m: Mounted, history: MountHistory): Promise<void> {
  const rec = m.initRecord();
  if (!rec) throw new Error('the connection has not been initialised');
  await send({ t: 'serving', pid: process.pid, sid: m.client.sessionId, init: rec.init.toString('base64'), conn: rec.conn, version: FERRY_VERSION });
  const metricsFile = metricsFileFor(m.mountpoint);
  if (m.client.metricsAddress) {
    // For `ferry stats MOUNTPOINT`: the mount's metrics address (also in its session record).
    await mkdir(dirname(metricsFile), { recursive: true })
      .then(() => writeFile(metricsFile, JSON.stringify({ pid: process.pid, metrics: m.client.metricsAddress, sid: m.client.sessionId }) + '\n'))
      .catch((e: Error) => log(`could not write ${metricsFile}: ${e.message}`));
    log(`metrics at http://${m.client.metricsAddress}/metrics`);
  }
  const cache = m.client.cache;
  process.on('SIGUSR1', () => log(cache?.summary() ?? 'no caches'));
  // For `ferry status`: this process, and the mount's history.
  m.client.meta
    .setSessionInfo({ standby: false, servingSince: new Date().toISOString(), pid: process.pid, version: FERRY_VERSION, mountStartedAt: history.startedAt, upgrades: history.upgrades, recoveries: history.recoveries, supervisor: process.ppid })
    .catch((e: Error) => log(`recording the session: ${e.message}`));
}

/**
 * After this process started serving in the place of another (takeover, standby): the --metrics port (on the
 * socket the old process passed, or bound once it let go) and the write-back staging directory (once the old
 * process let go). Neither failing ends the mount: it is logged.
 */
async function claimShared(m: Mounted, listeners?: Map<string, number>): Promise<void> {
  const t0 = performance.now();
  const r = await m.client.claim(listeners).catch((e: Error) => {
    log(`${e.message} (the mount serves on without it)`);
    return undefined;
  });
  void r?.staging.then(() => {
    if (m.client.cache && (m.client.config.cache?.writeback ?? false)) log(`took the write-back staging directory over ${(performance.now() - t0).toFixed(0)} ms after serving`);
  });
}

/** A takeover asked the old process for its state: from then on it no longer serves, whatever happens here. */
let asked = false;

async function main(): Promise<void> {
  // Started ahead as a spare: nothing to serve until told; without a supervisor there never will be.
  const orphaned = () => process.exit(0);
  process.once('disconnect', orphaned);
  const start = await new Promise<SupervisorMessage>((res) => process.once('message', (m) => res(m as SupervisorMessage)));
  process.off('disconnect', orphaned);
  if (start.t !== 'start') throw new Error(`expected a start message, got ${start.t}`);
  const { config, mountpoint, mode, history } = start;
  let m: Mounted;
  let hist = history;
  const dropDead = async (sid: number) => {
    // The dead process's locks: released (the applications holding them are not told; docs/upgrade.md).
    const dropped = await m.client.meta.dropDeadSession(sid).catch((e: Error) => {
      log(`releasing the session ${sid} of the dead process: ${e.message}`);
      return false;
    });
    if (dropped) log(`released the locks and open-file records of session ${sid} (the serving process that died)`);
  };
  if (mode === 'standby') {
    // In reserve: its start-up and idle work yield to the serving process and the applications.
    prepareNiced();
    m = await mountVolume(config, mountpoint, { fd: CONNECTION_FD, deferStart: true, successor: true, log });
    m.client.meta.setSessionInfo({ standby: true }).catch(() => undefined);
    const go = new Promise<SupervisorMessage>((res) => process.once('message', (x) => res(x as SupervisorMessage)));
    await send({ t: 'prepared' });
    const g = await go;
    if (g.t !== 'go') throw new Error(`expected go, got ${g.t}`);
    serveAtNormalPriority();
    m.start(initOf(g.init));
    if (g.history) hist = g.history;
    log(`recovered ${mountpoint}: serving again on the same connection`);
    if (g.deadSid) void dropDead(g.deadSid);
    // The dead process's port and staging lock are free now.
    await claimShared(m);
  } else if (mode === 'takeover') {
    m = await mountVolume(config, mountpoint, { fd: CONNECTION_FD, deferStart: true, adoptSession: start.sid, successor: true, log });
    // Ready: the old serving process stops and answers with its state on the control socket (blocking here
    // is fine, nothing else is to be done until it answers).
    const addon = loadAddon();
    const sock = start.control ?? CONTROL_FD;
    const t0 = performance.now();
    asked = true;
    addon.ctlSend(sock, encode({ op: 'go' }));
    const got = addon.ctlRecv(sock, 60_000);
    const msg = got ? (JSON.parse(got.data.toString()) as ControlMessage) : undefined;
    addon.closeFd(sock);
    if (msg?.op !== 'state') throw new Error(`the old mount daemon did not hand over its state (${msg?.op === 'error' ? msg.message : 'no answer'})`);
    m.start(initOf(start.init!), msg.state);
    log(`took over ${mountpoint}: requests paused ${Date.now() - msg.state.stoppedAt} ms (${(performance.now() - t0).toFixed(1)} ms after asking; session ${m.client.sessionId}, ${msg.state.server.handles.length} open files)`);
    // The listening sockets the old process passed with its state, by the key they were bound under.
    const keys = msg.state.listeners ?? [];
    await claimShared(m, new Map(keys.map((k, i) => [k, got!.fds[i]!] as const).filter(([, fd]) => fd !== undefined)));
  } else {
    m = await mountVolume(config, mountpoint, { fd: CONNECTION_FD, resume: start.init ? initOf(start.init) : undefined, log });
    if (mode === 'recover') {
      log(`recovered ${mountpoint}: serving again on the same connection`);
      if (start.sid) await dropDead(start.sid);
    }
  }
  await serving(m, hist);
  let exitCode = 0;
  process.on('message', (x: SupervisorMessage, socket?: Socket) => {
    if (x.t === 'handover') {
      // The successor's control socket, passed by the supervisor: the state goes straight to it.
      const fd = (socket as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd ?? -1;
      const addon = loadAddon();
      m.handOver()
        .then((state) => {
          // The --metrics socket goes along: the successor accepts from it, no connection is refused.
          const ls = listeningFds();
          addon.ctlSend(fd, encode({ op: 'state', state: { ...state, listeners: ls.map((l) => l.key) } }), ls.map((l) => l.fd));
          // The next process serves: staging and the metrics port are its now (lock waits may go on here).
          void m.client.handOff();
        })
        .catch((e: Error) => {
          log(`handover failed: ${e.message}`);
          exitCode = 1;
          try {
            addon.ctlSend(fd, encode({ op: 'error', message: e.message }));
          } catch {
            // the successor is gone too
          }
        })
        .finally(() => socket?.destroy());
    } else if (x.t === 'unmount') {
      m.unmount(x.force).catch((e: Error) => log(`unmount: ${e.message}`));
    }
  });
  // Without a supervisor, nobody restarts this process if it dies: the mount then ends (ENOTCONN).
  process.on('disconnect', () => log('the supervisor is gone: a crash of this process now ends the mount'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);
  await m.done;
  process.exit(exitCode);
}

main().catch(async (e: Error) => {
  // The supervisor reports it (one line for `ferry mount`, a log line for a recovery); alone, say it here.
  if (!process.connected) log(`cannot serve: ${e.message}`);
  await send({ t: 'failed', error: e.message, asked });
  process.exit(1);
});
