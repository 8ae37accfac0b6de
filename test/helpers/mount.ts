// Real FUSE mounts for tests: a formatted volume in a temp dir, and `ferry mount` as a CHILD process (a
// synchronous call from a daemon into its own mount would deadlock it). Tests talk to a mount with async
// fs calls or subprocesses only, so a stuck daemon cannot freeze the test runner; teardown escalates from
// `fusermount3 -u` to `-uz` to aborting the FUSE connection and kills the daemon if it does not exit.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDON_PATH, INSTALL_HINT } from '../../src/fuse/addon.js';
import { abortConnection, mountAt, unmountFuse } from '../../src/fuse/teardown.js';
import { tool } from './tools.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Why real mounts cannot run here, or undefined when they can. */
export function fuseUnavailable(): string | undefined {
  if (!existsSync(ADDON_PATH)) return `FUSE addon not built: ${INSTALL_HINT}`;
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing (load the fuse module or run the container with --device /dev/fuse)';
  if (process.getuid?.() !== 0) return 'FUSE tests mount with allow_other and switch uids: run them as root';
  return undefined;
}

/** Options for node:test: skipped with the reason by hand, a failure in CI. */
export function fuseTestOptions(): { skip?: string } {
  const why = fuseUnavailable();
  if (why && process.env.CI !== 'true') return { skip: why };
  return {};
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; uid?: number; gid?: number; cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, uid: opts.uid, gid: opts.gid, cwd: opts.cwd, env: opts.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        res({ code, stdout: String(stdout), stderr: String(stderr) + (err && (err as { killed?: boolean }).killed ? '\n(killed: timeout)' : '') });
      },
    );
    if (opts.input !== undefined) c.stdin?.end(opts.input);
  });
}

export interface TestVolume {
  url: string;
  dir: string;
  cleanup(): Promise<void>;
}

/** storage: an object store URL instead of file:// in the temp dir; accessKey/secretKey go into the format. */
/** capacity, inodes: the volume's limits (bytes, inodes; 0 = unlimited). */
export async function formatVolume(opts: { blockSize?: number; storage?: string; accessKey?: string; secretKey?: string; checksum?: string; capacity?: number; inodes?: number; acl?: boolean } = {}): Promise<TestVolume> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-fuse-'));
  await chmod(dir, 0o755); // other uids in the tests must reach the mount points inside
  const url = `sqlite3://${join(dir, 'meta.db')}`;
  // Formatted through the library (as test/helpers/volume.ts does), not the CLI: fewer moving parts.
  const { openMeta } = await import('../../src/meta/index.js');
  const m = await openMeta(url);
  try {
    const { newFormat } = await import('../../src/meta/format.js');
    await m.init(
      newFormat({
        name: 'fusetest',
        storage: opts.storage ?? `file://${join(dir, 'blocks')}`,
        ...(opts.accessKey !== undefined ? { accessKey: opts.accessKey, secretKey: opts.secretKey } : {}),
        blockSize: opts.blockSize ?? 4 << 20,
        trashDays: 0,
        ...(opts.checksum !== undefined ? { checksum: opts.checksum } : {}),
        capacity: opts.capacity ?? 0,
        inodes: opts.inodes ?? 0,
        ...(opts.acl ? { acl: true } : {}),
      }),
    );
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await m.close();
  }
  const cleanup = async () => {
    // Never recurse into a live mount: that would delete the volume's files through it.
    const { mounts } = await import('../../src/fuse/teardown.js');
    const left = (await mounts()).filter((m) => m.mountpoint.startsWith(dir + '/'));
    for (const m of left) await unmountFuse(m.mountpoint, { force: true }).catch(() => undefined);
    if ((await mounts()).some((m) => m.mountpoint.startsWith(dir + '/'))) throw new Error(`mounts left under ${dir}; not removing it`);
    await rm(dir, { recursive: true, force: true });
  };
  return { url, dir, cleanup };
}

export interface TestMount {
  mp: string;
  child: ChildProcess;
  /** What the daemon printed so far. */
  output(): string;
  /** Unmounts with escalation and waits for the daemon; safe to call twice. */
  unmount(): Promise<void>;
}

/** cli: another build's dist/src/cli/main.js (a benchmark's baseline column); this build's by default. */
export async function mountFerry(url: string, mp: string, args: string[] = [], cli = CLI): Promise<TestMount> {
  if (!(await mountAt(mp))) await mkdir(mp, { recursive: true }); // a stale mount answers ENOTCONN
  const child = spawn(process.execPath, [cli, 'mount', '-o', 'allow_other', ...args, url, mp], { stdio: ['ignore', 'pipe', 'pipe'] });
  return supervise(child, mp, 'ferry mount');
}

const MOUNT_JS = new URL('../../src/fuse/mount.js', import.meta.url).href;

/**
 * A mount made the other way round: this process opens /dev/fuse and mounts the connection itself with
 * mount(8) and `-o fd=N` (as a process handing over its mount would have), then a child daemon serves
 * the descriptor it inherits through mountVolume's `fd` option, without mounting anything.
 */
export async function mountOnFd(url: string, mp: string): Promise<TestMount> {
  await mkdir(mp, { recursive: true });
  const fd = openSync('/dev/fuse', 'r+');
  try {
    // The child's descriptor 3 is our /dev/fuse connection. -i: no mount.fuse helper, the kernel gets the options.
    const opts = 'fd=3,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions';
    const m = await new Promise<{ code: number | null; err: string }>((res) => {
      const c = spawn('mount', ['-i', '-t', 'fuse.ferryfs', '-o', opts, 'ferry:fd-test', mp], { stdio: ['ignore', 'ignore', 'pipe', fd] });
      let err = '';
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      c.once('exit', (code) => res({ code, err }));
    });
    if (m.code !== 0) throw new Error(`mount -o fd=3 failed (${m.code}): ${m.err}`);
    const daemon = [
      `const { mountVolume } = await import(${JSON.stringify(MOUNT_JS)});`,
      'const log = (l) => process.stderr.write(l + "\\n");',
      `const m = await mountVolume({ metaUrl: ${JSON.stringify(url)} }, ${JSON.stringify(mp)}, { fd: 3, log });`,
      'log("ready");',
      'process.on("SIGTERM", () => m.unmount(true).catch((e) => log(e.message)));',
      'await m.done;',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', daemon], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    return await supervise(child, mp, 'the fd daemon');
  } finally {
    closeSync(fd); // the daemon holds the connection now
  }
}

/**
 * Waits for a daemon child to print "ready" (ferry's daemons), or with `untilMounted` for `mp` to appear in
 * the mount table (a daemon that does not say when it is mounted, s3fs); its unmount escalates and always
 * ends the child.
 */
export async function supervise(child: ChildProcess, mp: string, what: string, untilMounted = false): Promise<TestMount> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let done: Promise<void> | undefined;
  const unmount = () =>
    (done ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const info = await mountAt(mp);
        await unmountFuse(mp, { force: true }).catch(() => undefined);
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
        if (info && (await mountAt(mp))) await abortConnection(info.minor);
      }
      if (await mountAt(mp)) await unmountFuse(mp, { force: true }).catch(() => undefined);
    })());
  try {
    await new Promise<void>((res, rej) => {
      let poll: NodeJS.Timeout | undefined;
      const t = setTimeout(() => {
        clearInterval(poll);
        rej(new Error(`${what} did not become ready in 30 s:\n${out}`));
      }, 30_000);
      const ok = () => {
        clearTimeout(t);
        clearInterval(poll);
        res();
      };
      if (untilMounted) poll = setInterval(() => void mountAt(mp).then((m) => m && ok()), 100);
      else child.stderr!.on('data', () => /ready/.test(out) && ok());
      child.once('exit', (code) => {
        clearTimeout(t);
        clearInterval(poll);
        rej(new Error(`${what} exited with ${code}:\n${out}`));
      });
    });
  } catch (e) {
    await unmount();
    throw e;
  }
  return { mp, child, output: () => out, unmount };
}

/** Runs a python3 snippet (for the calls Node lacks) and returns its stdout; throws with stderr on failure. */
export async function py(code: string, args: string[] = [], opts: { uid?: number; gid?: number } = {}): Promise<string> {
  const r = await run(tool('python3'), ['-c', code, ...args], { ...opts, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`python3 failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** The pids of pid's descendants (from /proc), deepest last. */
export async function descendants(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const parent = new Map<number, number>();
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const m = /\) \S (\d+)/.exec(stat);
    if (m) parent.set(Number(d), Number(m[1]));
  }
  const out: number[] = [];
  for (let level = [pid]; level.length; ) {
    level = [...parent].filter(([, pp]) => level.includes(pp)).map(([p]) => p);
    out.push(...level);
  }
  return out;
}

/**
 * kill -9 of a whole mount, as an OOM kill of its container does: the supervisor `ferry mount` runs and its
 * serving and standby processes (killing only one of them is a recovery, see fuse-upgrade.test.ts).
 */
export async function killMountTree(m: TestMount): Promise<void> {
  const pids = [m.child.pid!, ...(await descendants(m.child.pid!))];
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 200 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
}
