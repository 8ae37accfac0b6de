// The supervisor of a mount (docs/upgrade.md): a small process that holds the FUSE connection's descriptor
// and runs the serving process (serve-child.ts) on it. When that process dies (kill -9, OOM, a crash) it
// starts a new one on the same connection; when a newer `ferry mount` asks over the control socket, it hands
// the connection and the serving process's state over and leaves, without unmounting.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { fsErr } from '../errors.js';
import type { ClientConfig } from '../client/index.js';
import { FERRY_VERSION } from '../version.js';
import { loadAddon, type ConnParams, type FuseAddon } from './addon.js';
import { CONTROL_FD, type ChildMessage, type MountHistory, type SupervisorMessage } from './serve-messages.js';
import { HANDOVER_PROTOCOL, controlSocketFor, encode, type ConnectionOffer, type ControlMessage } from './handover.js';
import { checkMountpoint, fuseArgs } from './mount.js';

const CHILD = new URL('./serve-child.js', import.meta.url).pathname;
/** More crashes than this within CRASH_WINDOW_MS: the supervisor gives up (the mount then ends). */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;

export interface SupervisorOptions {
  log: (line: string) => void;
  /** The volume's name (the mount's fsname). */
  volume: string;
}

interface Serving {
  pid: number;
  sid: number;
  init: { init: string; conn: ConnParams };
  version: string;
}

export class Supervisor {
  private child?: ChildProcess;
  /** A serving process started ahead, modules loaded, waiting to be told what to do: a crash costs no start-up. */
  private spare?: ChildProcess;
  /** The spare has opened the volume and waits for go. */
  private spareReady = false;
  private serving?: Serving;
  private expectedExit = false;
  private crashes: number[] = [];
  private server?: Server;
  private readonly addon: FuseAddon = loadAddon();
  private ended!: () => void;
  /** Resolves when the mount ended or was handed over (the supervisor may exit). */
  readonly done = new Promise<void>((r) => (this.ended = r));
  handedOver = false;

  private constructor(
    readonly mountpoint: string,
    private config: ClientConfig,
    private readonly fd: number,
    private readonly opts: SupervisorOptions,
    readonly history: MountHistory,
  ) {
    // The supervisor lives as long as the mount: its children and control socket alone do not keep a
    // daemon's event loop alive once it let its launcher go.
    const keep = setInterval(() => undefined, 1 << 30);
    void this.done.then(() => clearInterval(keep));
  }

  /** Mounts mp and starts serving it; resolves once the mount answers. */
  static async mount(config: ClientConfig, mp: string, opts: SupervisorOptions): Promise<Supervisor> {
    await checkMountpoint(mp, config.mount?.nonempty === true, opts.log);
    const addon = loadAddon();
    const fd = addon.mountFd(fuseArgs(opts.volume, config), mp);
    const s = new Supervisor(mp, config, fd, opts, { startedAt: new Date().toISOString(), upgrades: 0, recoveries: 0 });
    try {
      await s.startChild({ mode: 'fresh' });
    } catch (e) {
      // Nothing serves it: unmount what was mounted.
      const { unmountFuse } = await import('./teardown.js');
      await unmountFuse(mp, { force: true }).catch(() => undefined);
      addon.closeFd(fd);
      throw e;
    }
    s.listen();
    return s;
  }

  /** Takes over the mount a running supervisor serves at mp (an upgrade); resolves once this one serves it. */
  static async takeOver(mp: string, opts: { log: (line: string) => void; config?: ClientConfig; volume?: string }): Promise<Supervisor> {
    const addon = loadAddon();
    const path = controlSocketFor(mp);
    let sock: number;
    try {
      sock = addon.ctlConnect(path);
    } catch (e) {
      throw fsErr('ENOENT', `no FerryFS mount daemon answers for ${mp} (${(e as Error).message})`);
    }
    let fd = -1;
    try {
      addon.ctlSend(sock, encode({ op: 'upgrade', protocol: HANDOVER_PROTOCOL, version: FERRY_VERSION, pid: process.pid }));
      const got = addon.ctlRecv(sock, 30_000);
      if (!got) throw fsErr('EIO', `the mount daemon of ${mp} closed the control socket`);
      const offer = JSON.parse(got.data.toString()) as ControlMessage;
      fd = got.fds[0] ?? -1;
      if (offer.op === 'error') throw fsErr('EBUSY', `the mount daemon of ${mp} refused: ${offer.message}`);
      if (offer.op !== 'connection' || fd < 0) throw fsErr('EIO', `unexpected answer from the mount daemon of ${mp}: ${offer.op}`);
      if (offer.protocol !== HANDOVER_PROTOCOL) throw fsErr('EIO', `the mount daemon of ${mp} speaks handover protocol ${offer.protocol}, this build ${HANDOVER_PROTOCOL}: unmount and mount instead`);
      if (opts.volume && opts.volume !== offer.volume) throw fsErr('EBUSY', `${mp} serves volume ${offer.volume}, not ${opts.volume}; unmount it first`);
      const config = opts.config ? { ...opts.config, metaUrl: offer.config.metaUrl } : offer.config;
      const history = { startedAt: offer.startedAt, upgrades: offer.upgrades + 1, recoveries: offer.recoveries };
      const s = new Supervisor(mp, config, fd, { log: opts.log, volume: offer.volume }, history);
      opts.log(`taking over ${mp} from version ${offer.version} (served by pid ${offer.sid ? `session ${offer.sid}` : '?'})`);
      // Prepared before the old one stops; then the new serving process itself asks for the state on the
      // control socket (inherited) and the old serving process answers on it: no relay in between.
      const t0 = performance.now();
      try {
        await s.takeoverChild(offer, sock);
        opts.log(`upgrade ${history.upgrades} of ${mp} done, ${(performance.now() - t0).toFixed(0)} ms after starting the new serving process`);
      } catch (e) {
        // Failed before asking: the old process still serves, the upgrade is refused.
        if (!(e as { asked?: boolean }).asked) throw fsErr('EIO', `the new serving process failed: ${(e as Error).message}`);
        // The old process may have stopped reading: serve the connection anyway (as after a crash).
        opts.log(`${(e as Error).message}; recovering instead`);
        s.serving = { pid: 0, sid: offer.sid, init: { init: offer.init, conn: offer.conn }, version: offer.version };
        await s.startChild({ mode: 'recover' });
      }
      addon.closeFd(sock);
      s.listen();
      return s;
    } catch (e) {
      addon.closeFd(sock);
      if (fd >= 0) addon.closeFd(fd);
      throw e;
    }
  }

  // ---- the serving process ----

  private spawnChild(): ChildProcess {
    // The connection as descriptor 3 of the child (a copy of this one's), IPC on 4.
    const child = spawn(process.execPath, [...process.execArgv, CHILD], {
      stdio: ['ignore', 'inherit', 'inherit', this.fd, 'ipc'],
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
    });
    this.child = child;
    this.expectedExit = false;
    return child;
  }

  /** Starts the next serving process ahead (it exits by itself if this supervisor goes away). */
  private prepareSpare(): void {
    if (this.spare || this.handedOver) return;
    const c = spawn(process.execPath, [...process.execArgv, CHILD], {
      stdio: ['ignore', 'inherit', 'inherit', this.fd, 'ipc'],
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
    });
    c.on('error', () => undefined);
    c.once('exit', () => {
      if (this.spare === c) this.spare = undefined;
    });
    this.spare = c;
    this.spareReady = false;
    c.on('message', (m: ChildMessage) => {
      if (m.t === 'prepared' && this.spare === c) {
        this.spareReady = true;
        this.opts.log(`standby serving process ready (pid ${c.pid})`);
      }
    });
    c.send(this.startMessage('standby'));
  }

  /** A crash: the spare (volume open already, or opening it) serves at once; without one, a new process starts. */
  private async recover(): Promise<void> {
    const spare = this.spare;
    const prev = this.serving;
    const alive = spare && spare.exitCode === null && spare.signalCode === null && spare.connected;
    if (!spare || !alive || !prev) {
      spare?.kill('SIGKILL');
      this.spare = undefined;
      return this.startChild({ mode: 'recover' });
    }
    this.spare = undefined;
    if (!this.spareReady) {
      // Still opening the volume: further along than a new process would be.
      const ok = await new Promise<boolean>((res) => {
        spare.on('message', (m: ChildMessage) => m.t === 'prepared' && res(true));
        spare.once('exit', () => res(false));
      });
      if (!ok) return this.startChild({ mode: 'recover' });
    }
    this.child = spare;
    this.expectedExit = false;
    const p = this.untilServing(spare);
    spare.send({ t: 'go', init: prev.init, deadSid: prev.sid, history: this.history } satisfies SupervisorMessage);
    return p;
  }

  private startMessage(mode: 'fresh' | 'recover' | 'standby', sid?: number, init?: Serving['init']): SupervisorMessage {
    return { t: 'start', config: this.config, mountpoint: this.mountpoint, mode, init, sid, history: this.history };
  }

  /** Starts a serving process and resolves once it serves (rejects with its error). */
  private startChild(o: { mode: 'fresh' | 'recover' }): Promise<void> {
    const child = this.spawnChild();
    const prev = this.serving;
    child.send(o.mode === 'recover' ? this.startMessage('recover', prev?.sid, prev?.init) : this.startMessage('fresh'));
    return this.untilServing(child);
  }

  private untilServing(child: ChildProcess): Promise<void> {
    return new Promise((res, rej) => {
      const onMsg = (m: ChildMessage) => {
        if (m.t === 'serving') {
          this.serving = { pid: m.pid, sid: m.sid, init: { init: m.init, conn: m.conn }, version: m.version };
          child.off('exit', onExit);
          this.watch(child);
          this.prepareSpare();
          res();
        } else if (m.t === 'failed') {
          rej(Object.assign(fsErr('EIO', m.error), { asked: m.asked === true }));
        }
      };
      const onExit = (code: number | null, sig: string | null) => rej(fsErr('EIO', `the serving process ${sig ? `was killed by ${sig}` : `exited with code ${code}`} before it served`));
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
  }

  /** A serving process that takes the mount over, talking to the old one over the control socket `sock`. */
  private takeoverChild(offer: ConnectionOffer, sock: number): Promise<void> {
    const child = spawn(process.execPath, [...process.execArgv, CHILD], {
      stdio: ['ignore', 'inherit', 'inherit', this.fd, 'ipc', sock],
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
    });
    this.child = child;
    this.expectedExit = false;
    const p = this.untilServing(child);
    child.send({ t: 'start', config: this.config, mountpoint: this.mountpoint, mode: 'takeover', sid: offer.sid, init: { init: offer.init, conn: offer.conn }, history: this.history, control: CONTROL_FD } satisfies SupervisorMessage);
    return p;
  }

  /** A serving process ends: the mount ended, or it was handed over, or it died (start a new one). */
  private watch(child: ChildProcess): void {
    child.once('exit', (code, sig) => {
      if (child !== this.child) return;
      if (this.expectedExit || (code === 0 && !sig)) return this.finish();
      const now = Date.now();
      this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
      this.crashes.push(now);
      const why = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      if (this.crashes.length > MAX_CRASHES) {
        this.opts.log(`the serving process ${why}, ${this.crashes.length} times in a minute: giving up (the mount ends; ferry umount ${this.mountpoint})`);
        return this.finish();
      }
      this.opts.log(`the serving process (pid ${child.pid}) ${why}: starting a new one on the same connection`);
      this.history.recoveries++;
      const t0 = performance.now();
      this.recover().then(
        () => this.opts.log(`recovered ${this.mountpoint} in ${(performance.now() - t0).toFixed(0)} ms (pid ${this.serving?.pid})`),
        (e: Error) => {
          this.opts.log(`recovery failed: ${e.message}`);
          this.finish();
        },
      );
    });
  }

  private finish(): void {
    this.spare?.kill('SIGKILL');
    this.spare = undefined;
    this.server?.close();
    if (!this.handedOver) rmSync(controlSocketFor(this.mountpoint), { force: true });
    this.addon.closeFd(this.fd);
    this.ended();
  }

  /** Asks the serving process to unmount (flushing open files first). */
  unmount(force: boolean): void {
    this.child?.send({ t: 'unmount', force } satisfies SupervisorMessage);
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  get volume(): string {
    return this.opts.volume;
  }

  get clientConfig(): ClientConfig {
    return this.config;
  }

  get servingPid(): number | undefined {
    return this.serving?.pid;
  }

  // ---- the control socket ----

  private listen(): void {
    const path = controlSocketFor(this.mountpoint);
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
    this.server = createServer((c) => this.control(c));
    this.server.on('error', (e) => this.opts.log(`control socket ${path}: ${e.message}`));
    this.server.listen(path);
    this.server.unref();
  }

  private control(c: Socket): void {
    let buf = Buffer.alloc(0);
    let busy = false;
    // Descriptors can only be sent with sendmsg on the socket's own descriptor (the addon); Node reads.
    const fdOf = () => (c as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    const reply = (m: ControlMessage, fds?: number[]) => this.addon.ctlSend(fdOf(), encode(m), fds);
    c.on('error', () => undefined);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        const m = JSON.parse(buf.subarray(4, 4 + n).toString()) as ControlMessage;
        buf = buf.subarray(4 + n);
        try {
          if (m.op === 'upgrade') {
            if (busy || !this.serving || this.handedOver) {
              reply({ op: 'error', message: this.handedOver ? 'handed over already' : busy ? 'another handover is in progress' : 'not serving yet' });
              continue;
            }
            busy = true;
            this.opts.log(`version ${m.version} (pid ${m.pid}) asks to take this mount over`);
            reply(
              {
                op: 'connection',
                protocol: HANDOVER_PROTOCOL,
                version: FERRY_VERSION,
                mountpoint: this.mountpoint,
                config: this.config,
                volume: this.opts.volume,
                init: this.serving.init.init,
                conn: this.serving.init.conn,
                sid: this.serving.sid,
                startedAt: this.history.startedAt,
                upgrades: this.history.upgrades,
                recoveries: this.history.recoveries,
              },
              [this.fd],
            );
            c.once('close', () => {
              if (!this.handedOver) busy = false;
            });
          } else if (m.op === 'go' && busy && !this.handedOver) {
            this.handOver(c);
          }
        } catch (e) {
          this.opts.log(`control socket: ${(e as Error).message}`);
        }
      }
    });
  }

  /** The successor is prepared: the serving process stops, and answers it with its state on the socket c. */
  private handOver(c: Socket): void {
    const child = this.child!;
    this.handedOver = true;
    this.spare?.kill('SIGKILL');
    this.spare = undefined;
    this.expectedExit = true;
    // The successor listens at this path from now on.
    this.server?.close();
    rmSync(controlSocketFor(this.mountpoint), { force: true });
    child.once('exit', (code) => {
      if (code === 0) this.opts.log(`handed ${this.mountpoint} over; exiting without unmounting`);
      // The successor was told on the socket (or sees it closed) and recovers the connection.
      else this.opts.log(`the serving process exited with code ${code} while handing over`);
    });
    child.send({ t: 'handover' } satisfies SupervisorMessage, c);
  }
}
