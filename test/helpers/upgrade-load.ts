// The applications running on a mount while it is upgraded or its serving process is killed: one python
// process with a reader (4 KiB preads of a checksummed file held open), a writer (O_APPEND lines, each
// fsync'd in the crash case), a held flock, and per-iteration open/stat/close of small files. Every syscall's
// failure is recorded with its errno; the longest time one iteration's call took is the stall seen.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tool } from './tools.js';

const SCRIPT = String.raw`
import errno, fcntl, hashlib, json, os, sys, time, random
mp, stopfile, fsync_each = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
errors = []
def rec(op, e):
    errors.append({'op': op, 'errno': errno.errorcode.get(e.errno, str(e.errno)), 't': time.time()})
rnd = random.Random(7)
data = bytes(rnd.getrandbits(8) for _ in range(1 << 20))
with open(mp + '/data.bin', 'wb') as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
r = os.open(mp + '/data.bin', os.O_RDONLY)
w = os.open(mp + '/log.txt', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
l = os.open(mp + '/lock', os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(l, fcntl.LOCK_EX)
for i in range(8):
    with open(mp + '/small%d' % i, 'w') as f:
        f.write('small %d\n' % i)
print('started', flush=True)
reads = mismatches = 0
acked = []
seq = 0
worst = 0.0
worst_at = 0.0
while not os.path.exists(stopfile):
    t0 = time.monotonic()
    off = rnd.randrange(0, (1 << 20) - 4096, 4096)
    try:
        b = os.pread(r, 4096, off)
        reads += 1
        if b != data[off:off + 4096]:
            mismatches += 1
    except OSError as e:
        rec('pread', e)
    line = ('seq %d %s\n' % (seq, hashlib.sha256(str(seq).encode()).hexdigest()[:16])).encode()
    try:
        n = os.write(w, line)
        ok = n == len(line)
        if fsync_each:
            os.fsync(w)
        if ok:
            acked.append(seq)
    except OSError as e:
        rec('append', e)
    seq += 1
    try:
        k = seq % 8
        with open(mp + '/small%d' % k) as f:
            if f.read() != 'small %d\n' % k:
                mismatches += 1
    except OSError as e:
        rec('open-read-close', e)
    dt = time.monotonic() - t0
    if dt > worst:
        worst, worst_at = dt, time.time()
    time.sleep(0.005)
errs_close = []
for name, fd in (('close-data', r), ('close-log', w)):
    try:
        os.close(fd)
    except OSError as e:
        rec(name, e)
try:
    fcntl.flock(l, fcntl.LOCK_UN)
    os.close(l)
except OSError as e:
    rec('unlock', e)
with open(mp + '/log.txt', 'rb') as f:
    present = set()
    for ln in f.read().split(b'\n'):
        p = ln.split(b' ')
        if len(p) == 3 and p[0] == b'seq':
            s = int(p[1])
            if p[2] == hashlib.sha256(str(s).encode()).hexdigest()[:16].encode():
                present.add(s)
missing = [s for s in acked if s not in present]
print(json.dumps({'reads': reads, 'mismatches': mismatches, 'writes': len(acked), 'missing': missing[:20], 'missingCount': len(missing), 'errors': errors, 'worstMs': worst * 1000, 'worstAt': worst_at}), flush=True)
`;

export interface LoadResult {
  reads: number;
  mismatches: number;
  writes: number;
  missing: number[];
  missingCount: number;
  errors: Array<{ op: string; errno: string; t: number }>;
  worstMs: number;
  worstAt: number;
}

export interface Load {
  child: ChildProcess;
  /** Resolves once the files are open, the lock held and the loop runs. */
  started: Promise<void>;
  /** Stops the loop and returns what it saw. */
  stop(): Promise<LoadResult>;
}

export function startLoad(mp: string, scratch: string, opts: { fsyncEach: boolean }): Load {
  const stopFile = join(scratch, `stop-${process.pid}-${Date.now()}`);
  const child = spawn(tool('python3'), ['-c', SCRIPT, mp, stopFile, opts.fsyncEach ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const started = new Promise<void>((res, rej) => {
    const t = setInterval(() => {
      if (out.includes('started')) {
        clearInterval(t);
        res();
      }
    }, 20);
    void exited.then((c) => {
      clearInterval(t);
      rej(new Error(`the load exited (${c}) before it started: ${err}`));
    });
  });
  const stop = async (): Promise<LoadResult> => {
    await writeFile(stopFile, '');
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(kill);
    const last = out.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`the load failed (${code}): ${err}\n${out}`);
    return JSON.parse(last) as LoadResult;
  };
  return { child, started, stop };
}
