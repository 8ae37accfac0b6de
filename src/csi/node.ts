// The CSI Node service: one `ferry mount` process per volume per node at the staging path (NodeStageVolume),
// bind mounts of it into each pod's target path (NodePublishVolume), so every pod of a node using a volume
// shares one mount process; the last unpublish leaves it to NodeUnstageVolume, which stops it. A watchdog
// notices a stage mount that is gone (its process killed, ENOTCONN) and mounts it again, re-binding its targets.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, rmdir, statfs, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { readOnlyMode, requireCapabilities, type VolumeCapability } from './capabilities.js';
import { bindMount, isFuse, mountAt, unmount, unmountAll } from './mounts.js';
import { clientConfigOf, metaUrlOf, type Secrets } from './secrets.js';
import { CsiError, invalid, notFound, precondition } from './status.js';

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The variable `ferry` takes its real arguments from (cli/argv.ts): the metadata URL stays out of argv. */
const ARGV_ENV = 'FERRY_DAEMON_ARGV';

export interface NodeOptions {
  nodeId: string;
  region?: string;
  zone?: string;
  /** Where mount arguments (0600: they hold the metadata URL), keys and mount logs are kept (made 0700). */
  stateDir: string;
  /** How often the watchdog looks at the stage mounts (ms). */
  checkMs?: number;
  log?: (line: string) => void;
}

interface Staged {
  volumeId: string;
  staging: string;
  /** The mount's arguments as the process gets them (0600 file), and as its argv shows them. */
  argvFile: string;
  shown: string[];
  logFile: string;
  readOnly: boolean;
  child?: ChildProcess;
  pid?: number;
  /** Published target paths and whether each is read-only. */
  targets: Map<string, boolean>;
  restarts: number;
}

const keyOf = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 16);

function required(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(`${field} missing`);
  return v;
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export class NodeService {
  private readonly volumes = new Map<string, Staged>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  constructor(readonly opts: NodeOptions) {
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Starts the watchdog (and takes over what a previous driver process staged, from its state file). */
  async start(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.opts.stateDir, 0o700);
    await this.load();
    const tick = () => {
      this.timer = setTimeout(() => void this.check().finally(tick), this.opts.checkMs ?? 1000);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Operations on one volume run one at a time. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(id, next);
    void next.catch(() => undefined).finally(() => this.locks.get(id) === next && this.locks.delete(id));
    return next;
  }

  handlers() {
    return {
      NodeGetCapabilities: async () => ({
        capabilities: ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'VOLUME_CONDITION', 'EXPAND_VOLUME'].map((type) => ({ rpc: { type } })),
      }),
      NodeGetInfo: async () => {
        const segments: Record<string, string> = {};
        if (this.opts.region) segments['topology.ferryfs.io/region'] = this.opts.region;
        if (this.opts.zone) segments['topology.ferryfs.io/zone'] = this.opts.zone;
        return { node_id: this.opts.nodeId, max_volumes_per_node: 0, ...(Object.keys(segments).length ? { accessible_topology: { segments } } : {}) };
      },
      NodeStageVolume: (r: Req) => this.serial(required(r.volume_id, 'volume_id'), () => this.stage(r)),
      NodeUnstageVolume: (r: Req) => this.serial(required(r.volume_id, 'volume_id'), () => this.unstage(r)),
      NodePublishVolume: (r: Req) => this.serial(required(r.volume_id, 'volume_id'), () => this.publish(r)),
      NodeUnpublishVolume: (r: Req) => this.serial(required(r.volume_id, 'volume_id'), () => this.unpublish(r)),
      NodeGetVolumeStats: (r: Req) => this.stats(r),
      NodeExpandVolume: (r: Req) => this.expand(r),
    };
  }

  // ---- stage: one mount process per volume ----

  private async stage(r: Req): Promise<object> {
    const volumeId = r.volume_id as string;
    const staging = resolve(required(r.staging_target_path, 'staging_target_path'));
    const cap = r.volume_capability as VolumeCapability | undefined;
    requireCapabilities(cap ? [cap] : undefined, 'NodeStageVolume');
    const have = this.volumes.get(volumeId);
    if (have) {
      if (have.staging !== staging) throw new CsiError(status.ALREADY_EXISTS, `volume ${volumeId} is staged at ${have.staging}, not ${staging}`);
      if (isFuse(await mountAt(staging)) && this.running(have)) return {};
    }
    const ctx: Record<string, string> = r.volume_context ?? {};
    const key = keyOf(volumeId);
    const secrets = r.secrets as Secrets | undefined;
    metaUrlOf(secrets); // INVALID_ARGUMENT now rather than from the mount process
    const cfg = await clientConfigOf(secrets, this.opts.stateDir);
    const flags = ['allow_other', ...(ctx.mountOptions ? [ctx.mountOptions] : []), ...(cap?.mount?.mount_flags ?? [])].join(',');
    const subdir = ctx.subdir || (volumeId.startsWith('/') ? volumeId : '/');
    const readOnly = readOnlyMode(cap);
    const args = ['mount', '-o', flags, '--subdir', subdir, ...(readOnly ? ['--read-only'] : [])];
    if (cfg.encryption) {
      const configFile = join(this.opts.stateDir, `${key}.config.json`);
      await writeFile(configFile, JSON.stringify({ encryption: cfg.encryption }), { mode: 0o600 });
      args.push('--config', configFile);
    }
    if (ctx.cacheGroup) {
      args.push('--cache-group', ctx.cacheGroup);
      if (this.opts.region) args.push('--region', this.opts.region);
      if (this.opts.zone) args.push('--zone', this.opts.zone);
    }
    const argvFile = join(this.opts.stateDir, `${key}.argv.json`);
    await writeFile(argvFile, JSON.stringify([...args, cfg.metaUrl, staging]), { mode: 0o600 });
    await chmod(argvFile, 0o600);
    const vol: Staged = have ?? {
      volumeId,
      staging,
      argvFile,
      shown: [...args, '***', staging],
      logFile: join(this.opts.stateDir, `${key}.log`),
      readOnly,
      targets: new Map(),
      restarts: 0,
    };
    await mkdir(staging, { recursive: true });
    await this.mount(vol);
    this.volumes.set(volumeId, vol);
    await this.save();
    return {};
  }

  private running(v: Staged): boolean {
    return v.child ? v.child.exitCode === null && v.child.signalCode === null : alive(v.pid);
  }

  /** Starts the volume's `ferry mount` and waits until it serves (or says why it cannot). */
  private async mount(v: Staged): Promise<void> {
    if (await mountAt(v.staging)) await unmountAll(v.staging); // a dead mount left by a killed process
    const real = await readFile(v.argvFile, 'utf8');
    const out = await open(v.logFile, 'a', 0o600);
    const started = Date.now();
    let child: ChildProcess;
    try {
      // detached: its own process group, so it outlives a restart of this driver process.
      child = spawn(process.execPath, [CLI, ...v.shown], { env: { ...process.env, [ARGV_ENV]: real }, stdio: ['ignore', out.fd, out.fd], detached: true });
    } finally {
      await out.close();
    }
    child.unref();
    v.child = child;
    v.pid = child.pid;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    for (;;) {
      if (isFuse(await mountAt(v.staging))) break;
      if (child.exitCode !== null || child.signalCode !== null) {
        const tail = (await readFile(v.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-1)[0] ?? '';
        throw new CsiError(status.INTERNAL, `ferry mount of ${v.volumeId} exited: ${tail}`);
      }
      if (Date.now() - started > 60_000) {
        child.kill('SIGKILL');
        await exited;
        throw new CsiError(status.DEADLINE_EXCEEDED, `ferry mount of ${v.volumeId} did not serve within 60 s (log ${v.logFile})`);
      }
      await Promise.race([exited, new Promise((res) => setTimeout(res, 20))]);
    }
  }

  private async unstage(r: Req): Promise<object> {
    const volumeId = r.volume_id as string;
    const staging = resolve(required(r.staging_target_path, 'staging_target_path'));
    const v = this.volumes.get(volumeId);
    if (v && v.targets.size) throw precondition(`volume ${volumeId} is still published at ${[...v.targets.keys()].join(', ')}`);
    if (await mountAt(staging)) {
      // A plain unmount lets ferry flush and exit; a process that does not is killed.
      await unmount(staging);
      if (await mountAt(staging)) await unmountAll(staging);
    }
    if (v) {
      await this.waitExit(v, 20_000);
      await rm(v.argvFile, { force: true });
      await rm(join(this.opts.stateDir, `${keyOf(volumeId)}.config.json`), { force: true });
      this.volumes.delete(volumeId);
      await this.save();
    }
    return {};
  }

  private async waitExit(v: Staged, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.running(v) && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    if (this.running(v) && v.pid) {
      try {
        process.kill(-v.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }

  // ---- publish: a bind mount per pod ----

  private async publish(r: Req): Promise<object> {
    const volumeId = r.volume_id as string;
    const target = resolve(required(r.target_path, 'target_path'));
    const staging = resolve(required(r.staging_target_path, 'staging_target_path'));
    const cap = r.volume_capability as VolumeCapability | undefined;
    requireCapabilities(cap ? [cap] : undefined, 'NodePublishVolume');
    const v = this.volumes.get(volumeId);
    if (!v || v.staging !== staging) throw precondition(`volume ${volumeId} is not staged at ${staging}`);
    const readOnly = Boolean(r.readonly) || readOnlyMode(cap);
    const had = v.targets.get(target);
    if (had !== undefined && (await mountAt(target))) {
      if (had !== readOnly) throw new CsiError(status.ALREADY_EXISTS, `${target} is published ${had ? 'read-only' : 'read-write'} already`);
      return {};
    }
    await mkdir(target, { recursive: true });
    await bindMount(staging, target, readOnly);
    v.targets.set(target, readOnly);
    await this.save();
    return {};
  }

  private async unpublish(r: Req): Promise<object> {
    const volumeId = r.volume_id as string;
    const target = resolve(required(r.target_path, 'target_path'));
    if (await mountAt(target)) await unmountAll(target);
    await rmdir(target).catch(() => undefined);
    const v = this.volumes.get(volumeId);
    if (v?.targets.delete(target)) await this.save();
    return {};
  }

  // ---- stats: the quota, as df in the pod shows it ----

  private async stats(r: Req): Promise<object> {
    required(r.volume_id, 'volume_id');
    const path = resolve(required(r.volume_path, 'volume_path'));
    if (!(await mountAt(path))) throw notFound(`${path} is not a published or staged path`);
    let s;
    try {
      // A stuck mount must not hang the call.
      s = await Promise.race([statfs(path), new Promise<never>((_, rej) => setTimeout(() => rej(Object.assign(new Error('statfs timed out'), { code: 'ETIMEDOUT' })), 5000).unref())]);
    } catch (e) {
      return { usage: [], volume_condition: { abnormal: true, message: `${path}: ${(e as Error).message}` } };
    }
    const b = s.bsize;
    return {
      usage: [
        { unit: 'BYTES', total: s.blocks * b, available: s.bavail * b, used: (s.blocks - s.bfree) * b },
        { unit: 'INODES', total: s.files, available: s.ffree, used: s.files - s.ffree },
      ],
      volume_condition: { abnormal: false, message: '' },
    };
  }

  // ---- expand: the quota is the size, so the node only confirms the mount shows it ----

  /**
   * The controller raised the quota; the mount process learns it within its format refresh (2 s). Waits
   * (up to 10 s) until statfs at the volume path shows at least the size asked, and reports what it shows:
   * the kubelet marks the resize done only then, so `df` in the pod never lags the claim's new size.
   */
  private async expand(r: Req): Promise<object> {
    const volumeId = required(r.volume_id, 'volume_id');
    const path = resolve(required(r.volume_path, 'volume_path'));
    const cap = r.volume_capability as VolumeCapability | undefined;
    if (cap) requireCapabilities([cap], 'NodeExpandVolume');
    const v = this.volumes.get(volumeId);
    if (!v || !(v.staging === path || v.targets.has(path)) || !(await mountAt(path))) throw notFound(`volume ${volumeId} is not staged or published at ${path}`);
    const want = Number(r.capacity_range?.required_bytes ?? 0) || Number(r.capacity_range?.limit_bytes ?? 0);
    const until = Date.now() + 10_000;
    for (;;) {
      const s = await Promise.race([statfs(path), new Promise<never>((_, rej) => setTimeout(() => rej(new CsiError(status.UNAVAILABLE, `statfs ${path} timed out`)), 5000).unref())]);
      const total = s.blocks * s.bsize;
      if (total >= want) return { capacity_bytes: total };
      if (Date.now() > until) throw new CsiError(status.UNAVAILABLE, `the mount at ${path} still shows ${total} bytes, not the ${want} asked (is the quota raised? ControllerExpandVolume first)`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  // ---- watchdog ----

  /** Mounts again each stage mount that is gone (process dead or mount missing), then re-binds its targets. */
  async check(): Promise<void> {
    for (const v of [...this.volumes.values()]) {
      if (this.locks.has(v.volumeId)) continue; // a call on it is running
      const m = await mountAt(v.staging);
      if (isFuse(m) && this.running(v)) continue;
      await this.serial(v.volumeId, () => this.recover(v)).catch((e: Error) => this.log(`ferry csi: remounting ${v.volumeId} failed: ${e.message}`));
    }
  }

  private async recover(v: Staged): Promise<void> {
    if (this.volumes.get(v.volumeId) !== v) return;
    if (v.pid && alive(v.pid)) {
      try {
        process.kill(-v.pid, 'SIGKILL'); // alive but its mount is gone: it cannot serve it again
      } catch {
        /* gone */
      }
    }
    v.restarts++;
    this.log(`ferry csi: the mount of ${v.volumeId} at ${v.staging} is gone; mounting it again (restart ${v.restarts})`);
    await this.mount(v);
    // Each target gets the new mount on top of its dead one, never unmounted first: in between, the target
    // would be a plain directory of the node and a pod's write would land there, hidden afterwards. The dead
    // mounts underneath go with the target's unpublish.
    await Promise.all(
      [...v.targets].map(async ([target, ro]) => {
        try {
          await bindMount(v.staging, target, ro);
        } catch {
          if (await mountAt(target)) await unmountAll(target);
          await mkdir(target, { recursive: true });
          await bindMount(v.staging, target, ro);
        }
      }),
    );
    await this.save();
  }

  /** How many times each volume's mount was started again (tests, logs). */
  restarts(volumeId: string): number {
    return this.volumes.get(volumeId)?.restarts ?? 0;
  }

  // ---- state file: what a restarted driver process takes over ----

  private get stateFile(): string {
    return join(this.opts.stateDir, 'state.json');
  }

  private async save(): Promise<void> {
    const list = [...this.volumes.values()].map((v) => ({ ...v, child: undefined, targets: [...v.targets] }));
    await writeFile(this.stateFile + '.tmp', JSON.stringify(list), { mode: 0o600 });
    await rename(this.stateFile + '.tmp', this.stateFile);
  }

  private async load(): Promise<void> {
    let list: Array<Omit<Staged, 'targets'> & { targets: Array<[string, boolean]> }>;
    try {
      list = JSON.parse(await readFile(this.stateFile, 'utf8'));
    } catch {
      return;
    }
    for (const s of list) this.volumes.set(s.volumeId, { ...s, child: undefined, targets: new Map(s.targets) });
  }
}
