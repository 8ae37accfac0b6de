// The SDK as a user sees it: a node:fs/promises-shaped API. Where node:fs defines the behaviour, the same
// sequence runs on a temp dir with node:fs/promises and on a volume, and results and error codes are compared.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { FsError, Volume, constants, type Stats } from '../src/sdk/index.js';
import { metaOf, tempVolume, vfsOf, type TempVolume } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------------------
// Running one sequence on node:fs and on the volume

/** What both sides are called through: node:fs/promises' shape (the Volume has the same methods). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Api = any;

interface Side {
  name: 'node' | 'ferry';
  fs: Api;
  /** A path inside this test's directory, as this side spells it. */
  p(rel?: string): string;
  /** Turns this side's paths in results back into volume-style paths (so both sides compare equal). */
  norm(s: string): string;
}

interface Outcome {
  ok?: unknown;
  err?: { code: string; syscall?: string; path?: string; dest?: string };
}

function normalize(side: Side, v: unknown): unknown {
  if (typeof v === 'string') return side.norm(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map((x) => normalize(side, x));
  return v;
}

async function outcome(side: Side, fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: normalize(side, await fn()) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { dest?: string };
    if (typeof err?.code !== 'string') throw e;
    const o: Outcome['err'] = { code: err.code };
    if (err.syscall !== undefined) o.syscall = err.syscall;
    if (err.path !== undefined) o.path = side.norm(err.path);
    if (err.dest !== undefined) o.dest = side.norm(err.dest);
    return { err: o };
  }
}

let localRoot: string;
let tv: TempVolume;
let vol: Volume;
let dirs = 0;

/** Fresh, empty directories of the same name on both sides. */
async function sides(): Promise<[Side, Side]> {
  const name = `t${++dirs}`;
  await fsp.mkdir(join(localRoot, name));
  await vol.mkdir('/' + name);
  const node: Side = {
    name: 'node',
    fs: fsp,
    p: (rel = '') => `${localRoot}/${name}${rel ? '/' + rel : ''}`, // not path.join: keep '..' for the file system
    norm: (s) => (s.startsWith(localRoot) ? s.slice(localRoot.length) || '/' : s),
  };
  const ferry: Side = {
    name: 'ferry',
    fs: vol,
    p: (rel = '') => ('/' + name + (rel ? '/' + rel : '')).replace(/\/+$/, '') || '/',
    norm: (s) => s,
  };
  return [node, ferry];
}

/**
 * Runs `steps` on both sides; every value passed to `rec` (or thrown as an fs error) is recorded, and the two
 * records must be equal. Returns the record for extra checks.
 */
async function same(steps: (s: Side, rec: (label: string, p: () => Promise<unknown>) => Promise<unknown>) => Promise<void>): Promise<Array<[string, Outcome]>> {
  const [node, ferry] = await sides();
  const run = async (s: Side) => {
    const log: Array<[string, Outcome]> = [];
    const rec = async (label: string, p: () => Promise<unknown>) => {
      const o = await outcome(s, p);
      log.push([label, o]);
      return o.ok;
    };
    await steps(s, rec);
    return log;
  };
  const want = await run(node);
  const got = await run(ferry);
  // node:fs leaves out the path where the failing call worked on a descriptor (readFile's read): a path there is fine
  for (const [i, [, w]] of want.entries()) if (w.err && w.err.path === undefined && got[i]?.[1].err) delete got[i][1].err!.path;
  const diffs = want
    .map((w, i) => ({ step: w[0], want: w[1], got: got[i]?.[1] }))
    .filter((d) => !isDeepStrictEqual(d.got, d.want));
  if (diffs.length) assert.fail(`steps where the volume differs from node:fs (got = volume, want = node:fs):\n${JSON.stringify(diffs, null, 1)}`);
  assert.equal(got.length, want.length);
  return got;
}

/** The node:fs-comparable part of a Stats. */
function statShape(st: Stats | import('node:fs').Stats, withSize = true) {
  return {
    mode: st.mode.toString(8),
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    ...(withSize ? { size: st.size } : {}),
    file: st.isFile(),
    dir: st.isDirectory(),
    symlink: st.isSymbolicLink(),
  };
}

/** Just the error code (and path) of a failing call, for steps where node:fs's syscall is an implementation detail. */
async function codeOf(s: Side, p: Promise<unknown>, withPath = true): Promise<unknown> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return withPath ? { code: err.code, path: err.path === undefined ? undefined : s.norm(err.path) } : { code: err.code };
  }
}

async function rejectsCode(p: Promise<unknown>, code: string, extra: Record<string, unknown> = {}): Promise<FsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error, 'an Error');
    const err = e as FsError;
    assert.equal(err.code, code, `code of ${err.message}`);
    for (const [k, v] of Object.entries(extra)) assert.equal((err as unknown as Record<string, unknown>)[k], v, `${k} of ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** A deterministic byte stream: chunk i of `size` is a function of (seed, i). */
function pattern(seed: number, i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0 || 1;
  for (let k = 0; k + 4 <= size; k += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, k);
  }
  for (let k = size & ~3; k < size; k++) b[k] = k & 0xff;
  return b;
}

async function* source(seed: number, total: number, piece: number): AsyncGenerator<Buffer> {
  for (let i = 0, off = 0; off < total; i++, off += piece) yield pattern(seed, i, Math.min(piece, total - off));
}

function sha(): { sink: Writable; digest(): string; bytes(): number } {
  const h = createHash('sha256');
  let n = 0;
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      h.update(c);
      n += c.length;
      cb();
    },
  });
  return { sink, digest: () => h.digest('hex'), bytes: () => n };
}

async function expectedDigest(seed: number, total: number, piece: number): Promise<string> {
  const h = createHash('sha256');
  for await (const c of source(seed, total, piece)) h.update(c);
  return h.digest('hex');
}

before(async () => {
  process.umask(0o022);
  localRoot = await fsp.realpath(await fsp.mkdtemp(join(tmpdir(), 'ferry-sdk-local-')));
  tv = await tempVolume({ volume: { umask: 0o022 } });
  vol = tv.v;
});

after(async () => {
  await tv?.cleanup();
  if (localRoot) await fsp.rm(localRoot, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------

describe('sdk: whole-file helpers', () => {
  it('writeFile/readFile/appendFile with strings and encodings, Buffers and iterables, like node:fs', async () => {
    await same(async (s, rec) => {
      await rec('write utf8', () => s.fs.writeFile(s.p('a.txt'), 'héllo wörld\n'));
      await rec('read utf8', () => s.fs.readFile(s.p('a.txt'), 'utf8'));
      await rec('read buffer', () => s.fs.readFile(s.p('a.txt')));
      await rec('read opts', () => s.fs.readFile(s.p('a.txt'), { encoding: 'latin1' }));
      await rec('write hex', () => s.fs.writeFile(s.p('h'), 'deadbeef00', 'hex'));
      await rec('read hex', () => s.fs.readFile(s.p('h')));
      await rec('write base64 opts', () => s.fs.writeFile(s.p('h'), 'AAEC/w==', { encoding: 'base64' }));
      await rec('read base64', () => s.fs.readFile(s.p('h'), 'base64'));
      await rec('write buffer', () => s.fs.writeFile(s.p('b'), Buffer.from([0, 1, 2, 255])));
      await rec('write Uint8Array', () => s.fs.writeFile(s.p('u'), new Uint8Array([9, 8, 7])));
      await rec('read u', () => s.fs.readFile(s.p('u')));
      await rec('append string', () => s.fs.appendFile(s.p('b'), 'xyz'));
      await rec('append buffer', () => s.fs.appendFile(s.p('b'), Buffer.from('!!')));
      await rec('append hex', () => s.fs.appendFile(s.p('b'), '4142', 'hex'));
      await rec('read b', () => s.fs.readFile(s.p('b')));
      await rec('append creates', () => s.fs.appendFile(s.p('new'), 'first'));
      await rec('read new', () => s.fs.readFile(s.p('new'), 'utf8'));
      await rec('overwrite shorter', () => s.fs.writeFile(s.p('a.txt'), 'x'));
      await rec('read shorter', () => s.fs.readFile(s.p('a.txt'), 'utf8'));
      await rec('write empty', () => s.fs.writeFile(s.p('empty'), ''));
      await rec('read empty', () => s.fs.readFile(s.p('empty'), 'utf8'));
      async function* gen() {
        yield 'one ';
        yield Buffer.from('two ');
        yield new Uint8Array([0x33]);
      }
      await rec('write async iterable', () => s.fs.writeFile(s.p('it'), gen()));
      await rec('read it', () => s.fs.readFile(s.p('it'), 'utf8'));
      await rec('write sync iterable', () => s.fs.writeFile(s.p('it2'), [Buffer.from('a'), Buffer.from('bc')]));
      await rec('read it2', () => s.fs.readFile(s.p('it2'), 'utf8'));
      await rec('write Readable', () => s.fs.writeFile(s.p('rd'), Readable.from(['x', 'y', 'z'])));
      await rec('read rd', () => s.fs.readFile(s.p('rd'), 'utf8'));
      await rec('write with flag wx on existing', () => s.fs.writeFile(s.p('rd'), 'q', { flag: 'wx' }));
      await rec('write with flag a', () => s.fs.writeFile(s.p('rd'), 'q', { flag: 'a' }));
      await rec('read rd again', () => s.fs.readFile(s.p('rd'), 'utf8'));
      await rec('write mode', () => s.fs.writeFile(s.p('m'), 'm', { mode: 0o600 }));
      await rec('stat mode', async () => ((await s.fs.stat(s.p('m'))) as Stats).mode.toString(8));
      await rec('read missing', () => s.fs.readFile(s.p('missing')));
      await rec('read a directory', () => s.fs.readFile(s.p()));
      await rec('write into missing dir', () => s.fs.writeFile(s.p('nodir/x'), 'a'));
      await rec('write over a directory', () => s.fs.writeFile(s.p(), 'a'));
      await rec('write under a file', () => s.fs.writeFile(s.p('b/x'), 'a'));
    });
  });

  it('a multi-MiB file written with writeFile reads back identically', async () => {
    const data = pattern(7, 0, 9 * MiB + 123);
    await vol.writeFile('/big-wf', data);
    const back = (await vol.readFile('/big-wf')) as Buffer;
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
    assert.equal((await vol.stat('/big-wf')).size, data.length);
  });
});

describe('sdk: open flags and FileHandle', () => {
  it("open flags 'r', 'r+', 'w', 'wx', 'a', 'a+' behave like node:fs", async () => {
    await same(async (s, rec) => {
      const f = s.p('f');
      await rec('r missing', () => s.fs.open(f, 'r'));
      await rec('r+ missing', () => s.fs.open(f, 'r+'));
      await rec('create', () => s.fs.writeFile(f, 'hello world'));
      await rec('wx existing', () => s.fs.open(f, 'wx'));
      await rec('ax existing', () => s.fs.open(f, 'ax'));
      await rec('bad flag', async () => {
        try {
          await s.fs.open(f, 'q');
        } catch (e) {
          return (e as { code: string }).code === 'ERR_INVALID_ARG_VALUE' || (e as { code: string }).code === 'EINVAL' ? 'invalid' : (e as Error).message;
        }
      });

      let h = await s.fs.open(f, 'r');
      await rec('r: write is EBADF', async () => {
        try {
          await h.write('x');
        } catch (e) {
          return (e as { code: string }).code;
        }
      });
      await h.close();

      h = await s.fs.open(f, 'r+');
      await rec('r+ write at 0', async () => (await h.write('HE')).bytesWritten);
      await rec('r+ read current', async () => {
        const b = Buffer.alloc(5);
        const r = await h.read(b, 0, 5, null);
        return [r.bytesRead, b.toString()];
      });
      await h.close();
      await rec('after r+', () => s.fs.readFile(f, 'utf8'));

      h = await s.fs.open(f, 'a');
      await rec('a write', async () => (await h.write('!')).bytesWritten);
      await rec('a positional write still appends (Linux)', async () => (await h.write(Buffer.from('?'), 0, 1, 0)).bytesWritten);
      await rec('a: read is EBADF', async () => {
        try {
          await h.read(Buffer.alloc(2), 0, 2, 0);
        } catch (e) {
          return (e as { code: string }).code;
        }
      });
      await h.close();
      await rec('after a', () => s.fs.readFile(f, 'utf8'));

      h = await s.fs.open(f, 'a+');
      await rec('a+ read from start', async () => {
        const b = Buffer.alloc(4);
        const r = await h.read(b, 0, 4, 0);
        return b.subarray(0, r.bytesRead).toString();
      });
      await rec('a+ write', async () => (await h.write('END')).bytesWritten);
      await rec('a+ read back all', async () => {
        const b = Buffer.alloc(64);
        const r = await h.read(b, 0, 64, 0);
        return b.subarray(0, r.bytesRead).toString();
      });
      await h.close();

      h = await s.fs.open(f, 'w');
      await rec('w truncated', async () => ((await h.stat()) as Stats).size);
      await h.write('new');
      await h.close();
      await rec('after w', () => s.fs.readFile(f, 'utf8'));

      h = await s.fs.open(s.p('fresh'), 'wx');
      await h.write('x');
      await h.close();
      await rec('wx created', () => s.fs.readFile(s.p('fresh'), 'utf8'));
      h = await s.fs.open(s.p('fresh-w+'), 'w+');
      await h.write('abc');
      await rec('w+ read back', async () => {
        const b = Buffer.alloc(8);
        const r = await h.read(b, 0, 8, 0);
        return b.subarray(0, r.bytesRead).toString();
      });
      await h.close();
      await rec('open a directory for writing', () => s.fs.open(s.p(), 'w'));
      await rec('open a directory read-only then read', async () => {
        const d = await s.fs.open(s.p(), 'r');
        try {
          await d.read(Buffer.alloc(1), 0, 1, 0);
        } catch (e) {
          return (e as { code: string }).code;
        } finally {
          await d.close();
        }
      });
      await rec('open under a file', () => s.fs.open(s.p('f/x'), 'r'));
    });
  });

  it('FileHandle read/write at positions and at the current position, like node:fs', async () => {
    await same(async (s, rec) => {
      const h = await s.fs.open(s.p('pos'), 'w+');
      try {
        await rec('write cur 1', async () => (await h.write('abc')).bytesWritten);
        await rec('write cur 2', async () => (await h.write(Buffer.from('defg'))).bytesWritten);
        await rec('write buf slice', async () => (await h.write(Buffer.from('0123456789'), 2, 3)).bytesWritten);
        await rec('write at 20 (hole)', async () => (await h.write(Buffer.from('Z'), 0, 1, 20)).bytesWritten);
        await rec('write string at 1', async () => (await h.write('X', 1)).bytesWritten);
        await rec('write string with encoding at 3', async () => (await h.write('5959', 3, 'hex')).bytesWritten);
        await rec('write cur continues after positional writes', async () => (await h.write('!')).bytesWritten);
        await rec('size', async () => ((await h.stat()) as Stats).size);
        await rec('read at 0', async () => {
          const b = Buffer.alloc(32);
          const r = await h.read(b, 0, 32, 0);
          return b.subarray(0, r.bytesRead);
        });
        await rec('read cur (at end)', async () => {
          const b = Buffer.alloc(8);
          return (await h.read(b, 0, 8, null)).bytesRead;
        });
        await rec('read into offset', async () => {
          const b = Buffer.alloc(6, 0x2e);
          const r = await h.read(b, 2, 3, 4);
          return [r.bytesRead, b.toString('latin1')];
        });
        await rec('read options object', async () => {
          const r = await h.read({ buffer: Buffer.alloc(4), position: 5 });
          return r.buffer.subarray(0, r.bytesRead);
        });
        await rec('read past end', async () => (await h.read(Buffer.alloc(4), 0, 4, 100)).bytesRead);
        await rec('readFile from handle (position 0 after reopen)', async () => {
          const h2 = await s.fs.open(s.p('pos'), 'r');
          try {
            return await h2.readFile('latin1');
          } finally {
            await h2.close();
          }
        });
        await rec('sequential reads advance', async () => {
          const h2 = await s.fs.open(s.p('pos'), 'r');
          try {
            const out: string[] = [];
            for (let i = 0; i < 4; i++) {
              const b = Buffer.alloc(4);
              const r = await h2.read(b, 0, 4, null);
              out.push(b.subarray(0, r.bytesRead).toString('hex'));
            }
            return out;
          } finally {
            await h2.close();
          }
        });
        await rec('handle truncate', () => h.truncate(5));
        await rec('handle sync', () => h.sync());
        await rec('handle datasync', () => h.datasync());
        await rec('handle stat', async () => statShape(await h.stat()));
        await rec('handle chmod', () => h.chmod(0o600));
        await rec('handle utimes', () => h.utimes(1_500_000_000, 1_600_000_000));
        await rec('handle stat after', async () => {
          const st = (await h.stat()) as Stats;
          return [st.mode.toString(8), st.atimeMs, st.mtimeMs];
        });
      } finally {
        await h.close();
      }
      await rec('content', () => s.fs.readFile(s.p('pos')));
      await rec('use after close', async () => {
        try {
          await h.stat();
        } catch (e) {
          return (e as { code: string }).code;
        }
      });
      await rec('close twice', () => h.close());
    });
  });

  it(
    'FileHandle.readFile reads from the current position and advances it, like node:fs',
    async () => {
      await same(async (s, rec) => {
        await s.fs.writeFile(s.p('f'), '0123456789');
        const h = await s.fs.open(s.p('f'), 'r');
        try {
          await h.read(Buffer.alloc(3), 0, 3, null);
          await rec('readFile from position 3', () => h.readFile('utf8'));
          await rec('then at end of file', () => h.readFile('utf8'));
          await rec('read at current position', async () => (await h.read(Buffer.alloc(4), 0, 4, null)).bytesRead);
        } finally {
          await h.close();
        }
      });
    },
  );

  it('writes through one handle are visible to another handle of the same file at once', async () => {
    const a = await vol.open('/shared', 'w+');
    const b = await vol.open('/shared', 'r');
    try {
      await a.write('visible');
      const r = await b.read(Buffer.alloc(16), 0, 16, 0);
      assert.equal(r.buffer.subarray(0, r.bytesRead).toString(), 'visible');
      assert.equal((await vol.stat('/shared')).size, 7, 'stat by path sees buffered length');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('sdk: attributes', () => {
  it('stat/lstat: mode bits, size, nlink and type tests match node:fs', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('f'), '12345');
      await s.fs.mkdir(s.p('d'));
      await s.fs.mkdir(s.p('d/sub'));
      await s.fs.symlink('f', s.p('l'));
      await s.fs.symlink('d', s.p('ld'));
      await rec('stat f', async () => statShape(await s.fs.stat(s.p('f'))));
      await rec('stat d', async () => statShape(await s.fs.stat(s.p('d')), false));
      await rec('stat d/sub', async () => statShape(await s.fs.stat(s.p('d/sub')), false));
      await rec('stat l (follows)', async () => statShape(await s.fs.stat(s.p('l'))));
      await rec('lstat l', async () => statShape(await s.fs.lstat(s.p('l'))));
      await rec('stat ld', async () => statShape(await s.fs.stat(s.p('ld')), false));
      await rec('lstat ld', async () => statShape(await s.fs.lstat(s.p('ld'))));
      await rec('ino stable', async () => (await s.fs.stat(s.p('f'))).ino === (await s.fs.stat(s.p('l'))).ino);
      await rec('stat missing', () => s.fs.stat(s.p('nope')));
      await rec('lstat missing', () => s.fs.lstat(s.p('nope')));
      await rec('stat through a file', () => s.fs.stat(s.p('f/x')));
      await rec('stat trailing dot', async () => statShape(await s.fs.stat(s.p('d/.')), false));
      await rec('stat dotdot', async () => (await s.fs.stat(s.p('d/sub/..'))).ino === (await s.fs.stat(s.p('d'))).ino);
    });
  });

  it('mtime and ctime change on write, atime/mtime are kept exactly by utimes', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('f'), 'a');
      await s.fs.utimes(s.p('f'), 1_000_000_000, 1_000_000_000.5);
      const before = await s.fs.stat(s.p('f'));
      await rec('utimes exact', () => Promise.resolve([before.atimeMs, before.mtimeMs]));
      const h = await s.fs.open(s.p('f'), 'r+');
      await h.write('b', 1);
      await h.close();
      const afterWrite = await s.fs.stat(s.p('f'));
      await rec('mtime moved by write', () => Promise.resolve(afterWrite.mtimeMs > Date.now() - 60_000));
      await rec('ctime moved by write', () => Promise.resolve(afterWrite.ctimeMs >= before.ctimeMs && afterWrite.ctimeMs > Date.now() - 60_000));
      await s.fs.utimes(s.p('f'), new Date('2001-02-03T04:05:06.789Z'), new Date('2002-02-03T04:05:06.789Z'));
      await rec('utimes Date', async () => {
        const st = await s.fs.stat(s.p('f'));
        return [st.atime.toISOString(), st.mtime.toISOString()];
      });
      // a directory's mtime changes when an entry is added
      await s.fs.mkdir(s.p('d'));
      await s.fs.utimes(s.p('d'), 1_000_000_000, 1_000_000_000);
      await s.fs.writeFile(s.p('d/x'), '');
      await rec('dir mtime moved by create', async () => (await s.fs.stat(s.p('d'))).mtimeMs > 1_000_000_000_000);
      await s.fs.utimes(s.p('f'), 1_000_000_000, 1_000_000_000);
      await s.fs.truncate(s.p('f'), 0);
      await rec('mtime moved by truncate', async () => (await s.fs.stat(s.p('f'))).mtimeMs > 1_000_000_000_000);
    });
  });

  it('chmod, chown and utimes, like node:fs (as root)', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('f'), 'x');
      await s.fs.mkdir(s.p('d'));
      await rec('chmod', () => s.fs.chmod(s.p('f'), 0o640));
      await rec('chmod with setuid/sticky bits', () => s.fs.chmod(s.p('d'), 0o1777));
      await rec('chown', () => s.fs.chown(s.p('f'), 1000, 1001));
      await rec('after', async () => [statShape(await s.fs.stat(s.p('f'))), statShape(await s.fs.stat(s.p('d')), false)]);
      await s.fs.symlink('f', s.p('l'));
      await rec('chmod through symlink', () => s.fs.chmod(s.p('l'), 0o604));
      await rec('lchown', () => s.fs.lchown(s.p('l'), 7, 8));
      await rec('after link ops', async () => [statShape(await s.fs.stat(s.p('f'))), (await s.fs.lstat(s.p('l'))).uid]);
      await rec('chmod missing', () => s.fs.chmod(s.p('nope'), 0o600));
      await rec('chown missing', () => s.fs.chown(s.p('nope'), 1, 1));
      await rec('utimes missing', () => s.fs.utimes(s.p('nope'), 1, 1));
      await rec('utimes strings', async () => {
        await s.fs.utimes(s.p('f'), '1234567890', '1234567891.25');
        const st = await s.fs.stat(s.p('f'));
        return [st.atimeMs, st.mtimeMs];
      });
    });
  });

  it('truncate shrinks and grows with zeros, by path and by handle', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('f'), 'abcdefghij');
      await rec('shrink', () => s.fs.truncate(s.p('f'), 4));
      await rec('read shrunk', () => s.fs.readFile(s.p('f')));
      await rec('grow', () => s.fs.truncate(s.p('f'), 12));
      await rec('read grown', () => s.fs.readFile(s.p('f')));
      await rec('default length 0', () => s.fs.truncate(s.p('f')));
      await rec('size 0', async () => (await s.fs.stat(s.p('f'))).size);
      await s.fs.writeFile(s.p('g'), 'abcdefghij');
      const h = await s.fs.open(s.p('g'), 'r+');
      await h.write('XY', 8);
      await rec('ftruncate shrink over buffered write', () => h.truncate(9));
      await rec('ftruncate grow', () => h.truncate(16));
      await rec('read through handle', async () => {
        const b = Buffer.alloc(20);
        const r = await h.read(b, 0, 20, 0);
        return b.subarray(0, r.bytesRead);
      });
      await h.close();
      await rec('read g', () => s.fs.readFile(s.p('g')));
      await rec('truncate missing', () => s.fs.truncate(s.p('nope'), 1));
      await rec('truncate a directory', () => s.fs.truncate(s.p(), 1));
    });
    // grow far past one block and chunk: zeros, no data stored for the hole
    await vol.writeFile('/tr', 'abc');
    await vol.truncate('/tr', 70 * MiB);
    assert.equal((await vol.stat('/tr')).size, 70 * MiB);
    const h = await vol.open('/tr', 'r');
    try {
      const b = Buffer.alloc(64 * KiB, 1);
      const r = await h.read(b, 0, b.length, 64 * MiB - 1000);
      assert.equal(r.bytesRead, b.length);
      assert.ok(b.equals(Buffer.alloc(64 * KiB)), 'hole reads as zeros');
      const head = Buffer.alloc(4, 1);
      await h.read(head, 0, 4, 0);
      assert.deepEqual([...head], [0x61, 0x62, 0x63, 0]);
    } finally {
      await h.close();
    }
  });

  it('xattrs: set, get, list, remove and their errors', async () => {
    await vol.writeFile('/xa', 'x');
    await vol.setxattr('/xa', 'user.a', 'one');
    await vol.setxattr('/xa', 'user.b', Buffer.from([0, 1, 2]));
    assert.equal((await vol.getxattr('/xa', 'user.a')).toString(), 'one');
    assert.deepEqual([...(await vol.getxattr('/xa', 'user.b'))], [0, 1, 2]);
    assert.deepEqual((await vol.listxattr('/xa')).sort(), ['user.a', 'user.b']);
    await vol.setxattr('/xa', 'user.a', 'two');
    assert.equal((await vol.getxattr('/xa', 'user.a')).toString(), 'two');
    await rejectsCode(vol.setxattr('/xa', 'user.a', 'x', 1 /* XATTR_CREATE */), 'EEXIST');
    await rejectsCode(vol.setxattr('/xa', 'user.zz', 'x', 2 /* XATTR_REPLACE */), 'ENODATA');
    await rejectsCode(vol.getxattr('/xa', 'user.none'), 'ENODATA', { syscall: 'getxattr', path: '/xa' });
    await vol.removexattr('/xa', 'user.a');
    assert.deepEqual(await vol.listxattr('/xa'), ['user.b']);
    await rejectsCode(vol.removexattr('/xa', 'user.a'), 'ENODATA');
    await rejectsCode(vol.getxattr('/nope', 'user.a'), 'ENOENT');
    await vol.setxattr('/xa', 'user.empty', '');
    assert.equal((await vol.getxattr('/xa', 'user.empty')).length, 0);
    // xattrs belong to the inode: a hard link sees them
    await vol.link('/xa', '/xa-link');
    assert.deepEqual((await vol.listxattr('/xa-link')).sort(), ['user.b', 'user.empty']);
  });

  it('a client that holds an inode\'s attributes answers "no such xattr" without asking the metadata', async () => {
    await vol.writeFile('/xq', 'x');
    const meta = vfsOf(vol).meta;
    const real = meta.getxattr.bind(meta);
    let asked = 0;
    meta.getxattr = (...a) => (asked++, real(...a));
    try {
      await vol.stat('/xq');
      await rejectsCode(vol.getxattr('/xq', 'security.selinux'), 'ENODATA');
      assert.deepEqual(await vol.listxattr('/xq'), []);
      assert.equal(asked, 0, 'answered from the attributes');
      await vol.setxattr('/xq', 'user.k', 'v');
      assert.equal((await vol.getxattr('/xq', 'user.k')).toString(), 'v');
      await rejectsCode(vol.getxattr('/xq', 'user.other'), 'ENODATA');
      assert.equal(asked, 2, 'an inode with xattrs is asked about');
    } finally {
      meta.getxattr = real;
    }
  });

  it('statfs reports sizes in 4 KiB blocks and counts inodes', async () => {
    const a = await vol.statfs('/');
    assert.equal(a.bsize, 4096);
    for (const k of ['blocks', 'bfree', 'bavail', 'files', 'ffree'] as const) assert.ok(Number.isInteger(a[k]) && a[k] >= 0, `${k}=${a[k]}`);
    assert.ok(a.bavail <= a.blocks && a.bfree <= a.blocks && a.ffree <= a.files);
    await vol.mkdir('/sf');
    await vol.writeFile('/sf/data', pattern(1, 0, 2 * MiB));
    for (let i = 0; i < 10; i++) await vol.writeFile(`/sf/f${i}`, 'x');
    const b = await vol.statfs();
    assert.ok(b.files - b.ffree >= a.files - a.ffree + 12, `used inodes grew: ${a.files - a.ffree} -> ${b.files - b.ffree}`);
    assert.ok(b.blocks - b.bfree >= a.blocks - a.bfree + 512, `used blocks grew: ${a.blocks - a.bfree} -> ${b.blocks - b.bfree}`);
    await vol.rm('/sf', { recursive: true });
    await vol.settle();
    const c = await vol.statfs();
    assert.ok(c.files - c.ffree <= b.files - b.ffree - 12, 'inodes given back');
    assert.ok(c.blocks - c.bfree <= b.blocks - b.bfree - 512, 'space given back');
  });
});

describe('sdk: directories and names', () => {
  it('readdir (+withFileTypes) lists like node:fs', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('b-file'), '');
      await s.fs.mkdir(s.p('a-dir'));
      await s.fs.symlink('b-file', s.p('c-link'));
      await s.fs.writeFile(s.p('a-dir/inner'), '');
      await s.fs.writeFile(s.p('ünïcødé name'), '');
      await rec('names', async () => ((await s.fs.readdir(s.p())) as string[]).sort());
      await rec('types', async () => {
        const list = (await s.fs.readdir(s.p(), { withFileTypes: true })) as Array<import('node:fs').Dirent>;
        return list
          .map((d) => [d.name, d.isFile(), d.isDirectory(), d.isSymbolicLink(), s.norm(d.path)])
          .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
      });
      await rec('empty dir', () => s.fs.readdir(s.p('a-dir/..//a-dir')));
      await rec('readdir a file', () => s.fs.readdir(s.p('b-file')));
      await rec('readdir missing', () => s.fs.readdir(s.p('nope')));
      await rec('readdir through symlink', async () => {
        await s.fs.symlink('a-dir', s.p('dl'));
        return s.fs.readdir(s.p('dl'));
      });
    });
  });

  it('readdir of a directory with more entries than one page', async () => {
    await vol.mkdir('/many');
    const names: string[] = [];
    for (let i = 0; i < 5000; i++) names.push(`n${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map((n) => vol.mkdir(`/many/${n}`)));
    const got = await vol.readdir('/many');
    assert.equal(got.length, names.length);
    assert.deepEqual([...got].sort(), names);
    await vol.rm('/many', { recursive: true });
    assert.equal(await vol.exists('/many'), false);
  });

  it('mkdir (recursive returns the first directory created) like node:fs', async () => {
    await same(async (s, rec) => {
      await rec('plain', () => s.fs.mkdir(s.p('a')));
      await rec('exists', () => s.fs.mkdir(s.p('a')));
      await rec('missing parent', () => s.fs.mkdir(s.p('x/y')));
      await rec('recursive new', () => s.fs.mkdir(s.p('r/s/t'), { recursive: true }));
      await rec('recursive partly existing', () => s.fs.mkdir(s.p('r/s/t/u/v'), { recursive: true }));
      await rec('recursive all existing', () => s.fs.mkdir(s.p('r/s'), { recursive: true }));
      await rec('mode', async () => {
        await s.fs.mkdir(s.p('m'), { mode: 0o750 });
        return (await s.fs.stat(s.p('m'))).mode.toString(8);
      });
      await rec('mode as number', async () => {
        await s.fs.mkdir(s.p('m2'), 0o700);
        return (await s.fs.stat(s.p('m2'))).mode.toString(8);
      });
      await s.fs.writeFile(s.p('file'), '');
      await rec('recursive over a file', () => s.fs.mkdir(s.p('file'), { recursive: true }));
      await rec('recursive under a file', () => s.fs.mkdir(s.p('file/sub'), { recursive: true }));
      await rec('plain under a file', () => s.fs.mkdir(s.p('file/sub')));
      await s.fs.symlink('r', s.p('lr'));
      await rec('recursive through a symlink', () => s.fs.mkdir(s.p('lr/new/deeper'), { recursive: true }));
      await rec('nlink of parent', async () => (await s.fs.stat(s.p('r/s/t'))).nlink);
    });
  });

  it('rm (recursive, force) and rmdir (ENOTEMPTY)', async () => {
    await same(async (s, rec) => {
      await s.fs.mkdir(s.p('d/e/f'), { recursive: true });
      await s.fs.writeFile(s.p('d/e/f/x'), 'x');
      await s.fs.writeFile(s.p('d/y'), 'y');
      await s.fs.symlink('/nonexistent-target', s.p('d/dangling'));
      await rec('rmdir not empty', () => s.fs.rmdir(s.p('d')));
      await rec('rmdir a file', () => s.fs.rmdir(s.p('d/y')));
      await rec('rmdir missing', () => s.fs.rmdir(s.p('nope')));
      await rec('unlink a directory', () => s.fs.unlink(s.p('d')));
      await rec('unlink missing', () => s.fs.unlink(s.p('nope')));
      // node:fs reports the lstat it does inside rm; only code and path are part of the contract
      await rec('rm missing', () => codeOf(s, s.fs.rm(s.p('nope'))));
      await rec('rm missing force', () => s.fs.rm(s.p('nope'), { force: true }));
      await rec('rm missing parent force', () => s.fs.rm(s.p('nope/deeper'), { force: true }));
      await rec('rm file', () => s.fs.rm(s.p('d/y')));
      await rec('rm dangling symlink', () => s.fs.rm(s.p('d/dangling')));
      await rec('rm tree', () => s.fs.rm(s.p('d'), { recursive: true }));
      await rec('gone', () => s.fs.readdir(s.p()));
      await s.fs.mkdir(s.p('e'));
      await rec('rmdir empty', () => s.fs.rmdir(s.p('e')));
    });
    await vol.mkdir('/rmd');
    // node:fs says ERR_FS_EISDIR here; the SDK says EISDIR
    await rejectsCode(vol.rm('/rmd'), 'EISDIR');
    // rm -r of a symlink to a directory removes the link, not the target's contents
    await vol.mkdir('/rmt/keep', { recursive: true });
    await vol.writeFile('/rmt/keep/f', 'f');
    await vol.symlink('/rmt/keep', '/rmt/link');
    await vol.rm('/rmt/link', { recursive: true });
    assert.deepEqual(await vol.readdir('/rmt/keep'), ['f']);
  });

  it('rename like node:fs: over an existing file, into a missing dir, directory cases', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('a'), 'A');
      await s.fs.writeFile(s.p('b'), 'B');
      await s.fs.mkdir(s.p('d1/sub'), { recursive: true });
      await s.fs.mkdir(s.p('d2'));
      await s.fs.mkdir(s.p('d3'));
      await s.fs.writeFile(s.p('d3/x'), '');
      await rec('over existing file', () => s.fs.rename(s.p('a'), s.p('b')));
      await rec('b has A', () => s.fs.readFile(s.p('b'), 'utf8'));
      await rec('a gone', () => s.fs.stat(s.p('a')));
      await rec('missing source', () => s.fs.rename(s.p('nope'), s.p('z')));
      await rec('into missing dir', () => s.fs.rename(s.p('b'), s.p('nodir/b')));
      await rec('file over dir', () => s.fs.rename(s.p('b'), s.p('d2')));
      await rec('dir over file', () => s.fs.rename(s.p('d2'), s.p('b')));
      await rec('dir over non-empty dir', () => s.fs.rename(s.p('d2'), s.p('d3')));
      await rec('dir over empty dir', () => s.fs.rename(s.p('d1'), s.p('d2')));
      await rec('moved subtree', () => s.fs.readdir(s.p('d2')));
      await rec('dir into itself', () => s.fs.rename(s.p('d2'), s.p('d2/sub/inner')));
      await rec('to itself', () => s.fs.rename(s.p('b'), s.p('b')));
      await rec('move between dirs', () => s.fs.rename(s.p('b'), s.p('d3/b')));
      await rec('listing', async () => [((await s.fs.readdir(s.p())) as string[]).sort(), ((await s.fs.readdir(s.p('d3'))) as string[]).sort()]);
      await rec('nlink after dir moves', async () => [(await s.fs.stat(s.p())).nlink, (await s.fs.stat(s.p('d2'))).nlink]);
    });
  });

  it('hard links: nlink, shared content, EEXIST and EPERM on a directory', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('a'), 'data');
      await rec('link', () => s.fs.link(s.p('a'), s.p('b')));
      await rec('nlink 2', async () => [(await s.fs.stat(s.p('a'))).nlink, (await s.fs.stat(s.p('b'))).nlink]);
      await rec('same inode', async () => (await s.fs.stat(s.p('a'))).ino === (await s.fs.stat(s.p('b'))).ino);
      await s.fs.appendFile(s.p('b'), '+more');
      await rec('content shared', () => s.fs.readFile(s.p('a'), 'utf8'));
      await rec('link existing', () => s.fs.link(s.p('a'), s.p('b')));
      await rec('link missing', () => s.fs.link(s.p('nope'), s.p('c')));
      await rec('link a dir', () => s.fs.link(s.p(), s.p('dl')));
      await rec('unlink one', () => s.fs.unlink(s.p('a')));
      await rec('nlink 1', async () => (await s.fs.stat(s.p('b'))).nlink);
      await rec('still readable', () => s.fs.readFile(s.p('b'), 'utf8'));
      await s.fs.mkdir(s.p('d'));
      await rec('link into a subdir', () => s.fs.link(s.p('b'), s.p('d/b2')));
      await rec('rename one link over the other', () => s.fs.rename(s.p('d/b2'), s.p('b')));
      await rec('both names after rename-over-self-link', async () => [((await s.fs.readdir(s.p())) as string[]).sort(), await s.fs.readdir(s.p('d'))]);
    });
  });

  it('symlinks: readlink, relative targets, ELOOP, realpath', async () => {
    await same(async (s, rec) => {
      await s.fs.mkdir(s.p('d/e'), { recursive: true });
      await s.fs.writeFile(s.p('d/e/f'), 'F');
      await rec('symlink relative', () => s.fs.symlink('d/e/f', s.p('rel')));
      await rec('symlink with ..', () => s.fs.symlink('../d/e/f', s.p('d/up')));
      await rec('symlink to dir', () => s.fs.symlink('d/e', s.p('de')));
      await rec('readlink', () => s.fs.readlink(s.p('rel')));
      await rec('readlink a file', () => s.fs.readlink(s.p('d/e/f')));
      await rec('readlink missing', () => s.fs.readlink(s.p('nope')));
      await rec('read through', () => s.fs.readFile(s.p('rel'), 'utf8'));
      await rec('read through ..', () => s.fs.readFile(s.p('d/up'), 'utf8'));
      await rec('read via dir link', () => s.fs.readFile(s.p('de/f'), 'utf8'));
      await rec('symlink existing', () => s.fs.symlink('x', s.p('rel')));
      await rec('dangling', async () => {
        await s.fs.symlink('missing', s.p('dangle'));
        return [await s.fs.readlink(s.p('dangle')), (await s.fs.lstat(s.p('dangle'))).isSymbolicLink()];
      });
      await rec('stat dangling', () => s.fs.stat(s.p('dangle')));
      await s.fs.symlink('loop2', s.p('loop1'));
      await s.fs.symlink('loop1', s.p('loop2'));
      await rec('stat loop', () => s.fs.stat(s.p('loop1')));
      await rec('readFile loop', () => s.fs.readFile(s.p('loop1')));
      await rec('lstat loop ok', async () => (await s.fs.lstat(s.p('loop1'))).isSymbolicLink());
      await rec('loop as a directory', () => s.fs.stat(s.p('loop1/x')));
      await s.fs.symlink('self', s.p('self'));
      await rec('self loop', () => s.fs.open(s.p('self'), 'r'));
      await rec('realpath plain', () => s.fs.realpath(s.p('d/e/f')));
      await rec('realpath rel link', () => s.fs.realpath(s.p('rel')));
      await rec('realpath via dir link and ..', () => s.fs.realpath(s.p('de/../e/./f')));
      await rec('realpath through link with ..', () => s.fs.realpath(s.p('d/up')));
      await rec('realpath missing', () => s.fs.realpath(s.p('nope/x')));
      await rec('realpath dangling', () => s.fs.realpath(s.p('d/e/../../missing-too')));
    });
  });

  it(
    'realpath of a symlink loop fails with ELOOP instead of recursing forever',
    async () => {
      await vol.symlink('/rl2', '/rl1');
      await vol.symlink('/rl1', '/rl2');
      // Run in a worker that is terminated after a few seconds, so a runaway recursion cannot take this process down.
      const sdk = new URL('../src/sdk/index.js', import.meta.url).href;
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        import(workerData.sdk).then(async ({ Volume }) => {
          const v = await Volume.open(workerData.url, { backgroundJobs: false });
          const r = await v.realpath('/rl1').then(() => 'resolved', (e) => e.code ?? String(e));
          parentPort.postMessage(r);
          await v.close();
        });`;
      const w = new Worker(code, { eval: true, workerData: { sdk, url: tv.url }, resourceLimits: { maxOldGenerationSizeMb: 256 } });
      const r = await new Promise<string>((res) => {
        const t = setTimeout(() => res('no answer within 30 s'), 30_000);
        w.on('message', (m) => (clearTimeout(t), res(String(m))));
        w.on('error', (e) => (clearTimeout(t), res("worker died: " + e.message)));
      });
      await w.terminate();
      assert.equal(r, 'ELOOP');
    },
  );

  it(
    'open with O_CREAT through a dangling symlink creates the target, like node:fs (and wx fails with EEXIST)',
    async () => {
      await same(async (s, rec) => {
        await s.fs.symlink('target', s.p('dangle'));
        await rec('wx through dangling', () => codeOf(s, s.fs.writeFile(s.p('dangle'), 'x', { flag: 'wx' })));
        await rec('write through dangling', () => s.fs.writeFile(s.p('dangle'), 'made'));
        await rec('target created', () => s.fs.readFile(s.p('target'), 'utf8'));
        await rec('link kept', () => s.fs.readlink(s.p('dangle')));
      });
    },
  );

  it('absolute symlink targets resolve from the volume root', async () => {
    await vol.mkdir('/abs/t', { recursive: true });
    await vol.writeFile('/abs/t/file', 'abs');
    await vol.symlink('/abs/t/file', '/abs/lf');
    await vol.symlink('/abs/t', '/abs/ld');
    assert.equal(await vol.readlink('/abs/lf'), '/abs/t/file');
    assert.equal(await vol.readFile('/abs/lf', 'utf8'), 'abs');
    assert.equal(await vol.readFile('/abs/ld/file', 'utf8'), 'abs');
    assert.equal(await vol.realpath('/abs/ld/file'), '/abs/t/file');
    assert.equal(await vol.realpath('/abs/lf'), '/abs/t/file');
    assert.equal(await vol.realpath('/'), '/');
    // '..' at the root stays at the root
    assert.equal(await vol.readFile('/../../abs/lf', 'utf8'), 'abs');
  });

  it('copyFile (+COPYFILE_EXCL) like node:fs; the copy is independent of the source', async () => {
    await same(async (s, rec) => {
      await s.fs.writeFile(s.p('src'), 'source data', { mode: 0o640 });
      await rec('copy', () => s.fs.copyFile(s.p('src'), s.p('dst')));
      await rec('content', () => s.fs.readFile(s.p('dst'), 'utf8'));
      await rec('mode', async () => (await s.fs.stat(s.p('dst'))).mode.toString(8));
      await s.fs.writeFile(s.p('other'), 'a much longer previous content');
      await rec('over existing', () => s.fs.copyFile(s.p('src'), s.p('other')));
      await rec('over existing content', () => s.fs.readFile(s.p('other'), 'utf8'));
      // error context (syscall/path/dest) is checked in the next test
      await rec('EXCL on existing', () => codeOf(s, s.fs.copyFile(s.p('src'), s.p('dst'), fsConstants.COPYFILE_EXCL), false));
      await rec('EXCL new', () => s.fs.copyFile(s.p('src'), s.p('dst2'), constants.COPYFILE_EXCL));
      await rec('missing source', () => codeOf(s, s.fs.copyFile(s.p('nope'), s.p('x')), false));
      await rec('into missing dir', () => codeOf(s, s.fs.copyFile(s.p('src'), s.p('nodir/x')), false));
      await rec('a directory', () => codeOf(s, s.fs.copyFile(s.p(), s.p('x')), false));
      await s.fs.writeFile(s.p('src'), 'changed');
      await rec('copy unchanged', () => s.fs.readFile(s.p('dst'), 'utf8'));
      await s.fs.unlink(s.p('src'));
      await rec('copy survives source deletion', () => s.fs.readFile(s.p('dst2'), 'utf8'));
    });
    // big copy, source deleted and its data freed: the copy still reads back
    const data = pattern(3, 0, 5 * MiB + 17);
    await vol.writeFile('/cp-src', data);
    await vol.copyFile('/cp-src', '/cp-dst');
    await vol.unlink('/cp-src');
    await vol.settle();
    const back = (await vol.readFile('/cp-dst')) as Buffer;
    assert.ok(back.equals(data), 'copy intact after the source was deleted and collected');
    // a copy of a file with unflushed writes includes them
    const h = await vol.open('/cp-open', 'w');
    await h.write('pending');
    await vol.copyFile('/cp-open', '/cp-open-copy');
    await h.close();
    assert.equal(await vol.readFile('/cp-open-copy', 'utf8'), 'pending');
  });
});

describe('sdk: permissions', () => {
  it('access and EACCES for a non-root client on the same volume', async () => {
    await vol.mkdir('/perm');
    await vol.mkdir('/perm/private', 0o700);
    await vol.writeFile('/perm/private/secret', 's');
    await vol.writeFile('/perm/public', 'p', { mode: 0o644 });
    await vol.mkdir('/perm/open');
    await vol.chmod('/perm/open', 0o777);
    await vol.access('/perm/private', constants.R_OK | constants.W_OK | constants.X_OK); // root
    await vol.access('/perm/public');
    await rejectsCode(vol.access('/perm/nope'), 'ENOENT', { syscall: 'access', path: '/perm/nope' });

    const user = await tv.open({ uid: 1000, gid: 1000, gids: [1000] });
    await user.access('/perm/public', constants.R_OK);
    await rejectsCode(user.access('/perm/public', constants.W_OK), 'EACCES', { syscall: 'access', path: '/perm/public' });
    await rejectsCode(user.access('/perm/private', constants.R_OK), 'EACCES');
    await rejectsCode(user.access('/perm/private', constants.X_OK), 'EACCES');
    await user.access('/perm/private'); // F_OK: it exists
    await rejectsCode(user.readdir('/perm/private'), 'EACCES', { syscall: 'scandir' });
    await rejectsCode(user.readFile('/perm/private/secret'), 'EACCES', { syscall: 'open' });
    await rejectsCode(user.stat('/perm/private/secret'), 'EACCES', { syscall: 'stat' });
    await rejectsCode(user.writeFile('/perm/private/mine', 'x'), 'EACCES');
    await rejectsCode(user.writeFile('/perm/public', 'x'), 'EACCES');
    await rejectsCode(user.open('/perm/public', 'r+'), 'EACCES');
    await rejectsCode(user.mkdir('/perm/newdir'), 'EACCES');
    await rejectsCode(user.unlink('/perm/public'), 'EACCES');
    await rejectsCode(user.chmod('/perm/public', 0o777), 'EPERM');
    await rejectsCode(user.chown('/perm/public', 1000, 1000), 'EPERM');
    assert.equal(await user.readFile('/perm/public', 'utf8'), 'p');
    // in a world-writable directory the user creates and owns files
    await user.writeFile('/perm/open/u', 'mine');
    const st = await user.stat('/perm/open/u');
    assert.deepEqual([st.uid, st.gid, st.mode.toString(8)], [1000, 1000, '100644']);
    await user.chmod('/perm/open/u', 0o600);
    await rejectsCode(user.chown('/perm/open/u', 0, 0), 'EPERM');
    // the owner may set times; others may not
    await user.utimes('/perm/open/u', 1, 1);
    await rejectsCode(user.utimes('/perm/public', 1, 1), 'EPERM');
    // root lifts the restriction; the user sees it (after the attribute cache expires)
    await vol.chmod('/perm/private', 0o755);
    await sleep(1100);
    assert.equal(await user.readFile('/perm/private/secret', 'utf8'), 's');
  });

  it("another user's write, truncate or O_TRUNC open clears setuid/setgid when it returns; root's keeps them", async () => {
    await vol.mkdir('/setid');
    await vol.chmod('/setid', 0o777);
    for (const [name, mode] of [['w', 0o6777], ['t', 0o6777], ['e', 0o4777], ['g', 0o2767], ['r', 0o6777]] as const) {
      await vol.writeFile(`/setid/${name}`, name === 'e' ? '' : 'abc');
      await vol.chmod(`/setid/${name}`, mode);
    }
    const user = await tv.open({ uid: 1000, gid: 1000, gids: [1000] });
    const mode = async (name: string) => ((await user.stat(`/setid/${name}`)).mode & 0o7777).toString(8);
    const fh = await user.open('/setid/w', 'r+');
    await fh.write('x', 0);
    assert.equal(await mode('w'), '777', 'as the write returns, before the close');
    await fh.close();
    assert.equal(await user.readFile('/setid/w', 'utf8'), 'xbc');
    await user.truncate('/setid/t', 1);
    assert.equal(await mode('t'), '777');
    await user.writeFile('/setid/e', '');
    assert.equal(await mode('e'), '777', 'an O_TRUNC open of an empty file too');
    await user.appendFile('/setid/g', 'x');
    assert.equal(await mode('g'), '767', 'setgid without group-execute goes for a non-member');
    await vol.appendFile('/setid/r', 'x');
    assert.equal(((await vol.stat('/setid/r')).mode & 0o7777).toString(8), '6777');
  });
});

describe('sdk: streams', () => {
  it('pipeline of a 50 MiB stream through createWriteStream / createReadStream: bytes identical', async () => {
    const total = 50 * MiB + 333;
    const piece = 256 * KiB + 7;
    const want = await expectedDigest(11, total, piece);
    const w = await vol.open('/stream50', 'w');
    await pipeline(source(11, total, piece), w.createWriteStream());
    await w.close();
    assert.equal((await vol.stat('/stream50')).size, total);
    const r = await vol.open('/stream50', 'r');
    const h = sha();
    await pipeline(r.createReadStream(), h.sink);
    await r.close();
    assert.equal(h.bytes(), total);
    assert.equal(h.digest(), want);
    // a range [start, end] (end inclusive), small highWaterMark
    const r2 = await vol.open('/stream50', 'r');
    const parts: Buffer[] = [];
    await pipeline(r2.createReadStream({ start: 10 * MiB - 5, end: 10 * MiB + 4, highWaterMark: 3 }), async function* (src) {
      for await (const c of src) parts.push(c as Buffer);
    });
    await r2.close();
    const range = Buffer.concat(parts);
    const pieces: Buffer[] = [];
    for await (const c of source(11, 10 * MiB + 5, piece)) pieces.push(c);
    const all = Buffer.concat(pieces);
    assert.ok(range.equals(all.subarray(10 * MiB - 5, 10 * MiB + 5)), 'range read');
  });

  it('streams close their handle at the end by default, as node:fs FileHandle streams do (autoClose)', async () => {
    const results = [];
    for (const fsx of [fsp as Api, vol as Api]) {
      const p = fsx === vol ? '/autoclose' : join(localRoot, 'autoclose');
      const w = await fsx.open(p, 'w');
      await pipeline(Readable.from([Buffer.from('abc')]), w.createWriteStream());
      const afterWrite = await w.stat().then(
        () => 'open',
        (e: { code: string }) => e.code,
      );
      await w.close();
      const r = await fsx.open(p, 'r');
      await pipeline(r.createReadStream(), new Writable({ write: (_c, _e, cb) => cb() }));
      const afterRead = await r.stat().then(
        () => 'open',
        (e: { code: string }) => e.code,
      );
      await r.close();
      results.push([afterWrite, afterRead]);
    }
    assert.deepEqual(results[1], results[0], 'volume (actual) vs node:fs (expected)');
  });

  it('a 64 MiB stream written with bufferLimit 8 MiB keeps memory bounded (backpressure)', { timeout: 120_000 }, async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const small = await tv.open({ bufferLimit: 8 * MiB });
    const total = 64 * MiB;
    const piece = 1 * MiB;
    gc();
    const mem = () => {
      const m = process.memoryUsage();
      return m.arrayBuffers + m.heapUsed;
    };
    const base = mem();
    let peak = 0;
    let produced = 0;
    async function* src() {
      for (let i = 0; produced < total; i++) {
        if (i % 4 === 0) {
          gc();
          peak = Math.max(peak, mem() - base);
        }
        produced += piece;
        yield pattern(21, i, piece);
      }
    }
    const timer = setInterval(() => (peak = Math.max(peak, mem() - base)), 5);
    try {
      const w = await small.open('/bounded', 'w');
      await pipeline(src(), w.createWriteStream());
      await w.close();
    } finally {
      clearInterval(timer);
    }
    assert.equal((await small.stat('/bounded')).size, total);
    t.diagnostic(`peak growth of heap + array buffers: ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(peak < 40 * MiB, `memory grew by ${(peak / MiB).toFixed(1)} MiB while streaming 64 MiB with an 8 MiB buffer`);
    const h = sha();
    const r = await small.open('/bounded', 'r');
    await pipeline(r.createReadStream(), h.sink);
    await r.close();
    assert.equal(h.digest(), await expectedDigest(21, total, piece));
    await small.close();
  });
});

describe('sdk: errors', () => {
  it('errors carry code, errno, syscall, path (and dest) like node:fs', async () => {
    const log = await same(async (s, rec) => {
      await s.fs.writeFile(s.p('f'), '');
      await rec('stat', () => s.fs.stat(s.p('nope')));
      await rec('lstat', () => s.fs.lstat(s.p('nope')));
      await rec('open', () => s.fs.open(s.p('nope'), 'r'));
      await rec('readFile', () => s.fs.readFile(s.p('nope')));
      await rec('readdir', () => s.fs.readdir(s.p('nope')));
      await rec('mkdir', () => s.fs.mkdir(s.p('f')));
      await rec('rmdir', () => s.fs.rmdir(s.p('nope')));
      await rec('unlink', () => s.fs.unlink(s.p('nope')));
      await rec('rename', () => s.fs.rename(s.p('nope'), s.p('other')));
      await rec('link', () => s.fs.link(s.p('nope'), s.p('other')));
      await rec('symlink', () => s.fs.symlink('t', s.p('f')));
      await rec('readlink', () => s.fs.readlink(s.p('nope')));
      await rec('chmod', () => s.fs.chmod(s.p('nope'), 0o600));
      await rec('chown', () => s.fs.chown(s.p('nope'), 0, 0));
      await rec('utimes', () => s.fs.utimes(s.p('nope'), 0, 0));
      await rec('truncate', () => s.fs.truncate(s.p('nope')));
      await rec('access', () => s.fs.access(s.p('nope')));
      await rec('realpath', () => s.fs.realpath(s.p('nope')));
      await rec('appendFile', () => s.fs.appendFile(s.p('nodir/x'), 'x'));
    });
    assert.ok(log.every(([, o]) => o.err), 'every step failed');
    const e = await rejectsCode(vol.stat('/missing/file'), 'ENOENT');
    assert.ok(e instanceof Error && e instanceof FsError);
    assert.equal(e.errno, -2);
    assert.equal(e.syscall, 'stat');
    assert.equal(e.path, '/missing/file');
    assert.equal(e.message, "ENOENT: no such file or directory, stat '/missing/file'");
  });
});

describe('sdk: error codes', () => {
  it('every code FerryFS raises has its description (a too-big xattr says E2BIG: argument list too long)', async () => {
    await vol.writeFile('/big-xattr', '');
    const e = await rejectsCode(vol.setxattr('/big-xattr', 'user.big', Buffer.alloc(65537)), 'E2BIG');
    assert.equal(e.errno, -7);
    assert.equal(e.message, "E2BIG: argument list too long, setxattr '/big-xattr'");
  });
});

describe('sdk: errors of copyFile', () => {
  it(
    "copyFile errors say syscall 'copyfile', path = source and dest = destination, like node:fs",
    async () => {
      await same(async (s, rec) => {
        await s.fs.writeFile(s.p('src'), 'x');
        await s.fs.writeFile(s.p('dst'), 'y');
        await rec('missing source', () => s.fs.copyFile(s.p('nope'), s.p('other')));
        await rec('EXCL on existing', () => s.fs.copyFile(s.p('src'), s.p('dst'), constants.COPYFILE_EXCL));
        await rec('into missing dir', () => s.fs.copyFile(s.p('src'), s.p('nodir/x')));
      });
    },
  );
});

describe('sdk: several clients on one volume', () => {
  it('two Volume instances on one URL see each other’s files', async () => {
    const a = await tv.open({ attrTimeout: 0, entryTimeout: 0 });
    const b = await tv.open({ attrTimeout: 0, entryTimeout: 0 });
    await a.mkdir('/two');
    await a.writeFile('/two/f', 'from a');
    assert.equal(await b.readFile('/two/f', 'utf8'), 'from a');
    await b.appendFile('/two/f', ', then b');
    assert.equal(await a.readFile('/two/f', 'utf8'), 'from a, then b');
    assert.equal((await a.stat('/two/f')).size, 14);
    await b.rename('/two/f', '/two/g');
    await rejectsCode(a.stat('/two/f'), 'ENOENT');
    assert.deepEqual(await a.readdir('/two'), ['g']);
    await b.truncate('/two/g', 4);
    assert.equal(await a.readFile('/two/g', 'utf8'), 'from');
    // data written by one client while the other holds the file open
    const ha = await a.open('/two/g', 'r');
    const hb = await b.open('/two/g', 'r+');
    await hb.write('FROM', 0);
    await hb.sync();
    const got = await ha.read(Buffer.alloc(8), 0, 8, 0);
    assert.equal(got.buffer.subarray(0, got.bytesRead).toString(), 'FROM');
    await ha.close();
    await hb.close();
    await b.unlink('/two/g');
    await rejectsCode(a.readFile('/two/g'), 'ENOENT');

    // with the default 1 s caches, changes show up after the timeout at the latest
    const c = await tv.open();
    await c.writeFile('/two/cached', 'v1');
    assert.equal(await c.readFile('/two/cached', 'utf8'), 'v1');
    await a.writeFile('/two/cached', 'version2');
    await sleep(1100);
    assert.equal(await c.readFile('/two/cached', 'utf8'), 'version2');
    await a.unlink('/two/cached');
    await sleep(1100);
    await rejectsCode(c.stat('/two/cached'), 'ENOENT');
    await c.close();
  });
});

describe('sdk: the package surface', () => {
  it('exports the node:fs/promises-shaped API and none of the layers under it', async () => {
    const pkg = (await import('../src/sdk/index.js')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(pkg).sort(), ['Dirent', 'FsError', 'Stats', 'Volume', 'constants', 'isFsError']);
    // FileHandle is a type only: handles come from Volume.open, as in node:fs/promises.
    assert.equal(pkg.FileHandle, undefined);
  });

  it('a Volume shows no client internals (vfs, ctx, meta, format, inode-level entries)', async () => {
    const t = await tempVolume();
    try {
      const v = t.v as unknown as Record<string, unknown>;
      for (const name of ['vfs', 'ctx', 'meta', 'format', 'entries']) assert.equal(v[name], undefined, name);
      assert.deepEqual(Object.keys(t.v), ['dev']);
    } finally {
      await t.cleanup();
    }
  });
});

describe('sdk: sessions', () => {
  it("a client's session records the FerryFS version it runs", async () => {
    const pkg = JSON.parse(await fsp.readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const sessions = await metaOf(vol).listSessions();
    assert.ok(sessions.length > 0);
    for (const s of sessions) assert.equal(s.version, pkg.version);
  });
});
