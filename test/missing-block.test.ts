// Issue 17 item 7: a block missing from the object store is reported at once when no write-back client is
// alive to upload it (ferry cat, the SDK, the gateway), and still waited for while one is.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startGateway } from './helpers/gateway.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Writes `path` (`n` blocks of 64 KiB), then deletes block `index`'s object; returns that object's key. */
async function fileWithLostBlock(t: TempVolume, path: string, n = 2, index = 1): Promise<string> {
  await t.v.writeFile(path, Buffer.alloc(n << 16, 9));
  const blocks = t.blocksDir!;
  const files = ((await readdir(blocks, { recursive: true })) as string[]).filter((p) => p.endsWith(`_${index}_65536`));
  assert.equal(files.length, 1, `one block ${index} in ${blocks}: ${files}`);
  await unlink(join(blocks, files[0]!));
  return relative(blocks, join(blocks, files[0]!));
}

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, FERRY_DEBUG: '' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('a block missing from the object store', () => {
  // Today's wait is 20 s; without a write-back client alive the error comes at once.
  it('ferry cat fails at once with one line naming the key', { timeout: 10_000 }, async () => {
    const t = await tempVolume({ blockSize: 64 << 10 });
    try {
      const key = await fileWithLostBlock(t, '/lost.bin');
      await t.v.close();
      const r = await ferry(['cat', t.url, '/lost.bin']);
      assert.notEqual(r.code, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.includes(key), `${lines[0]} names ${key}`);
    } finally {
      await t.cleanup();
    }
  });

  it('the SDK read fails with EIO naming the key, without waiting', { timeout: 10_000 }, async () => {
    const t = await tempVolume({ blockSize: 64 << 10, volume: { missingBlockWaitMs: 20_000 } });
    try {
      const key = await fileWithLostBlock(t, '/lost.bin');
      const r = await t.open({ missingBlockWaitMs: 20_000 });
      await assert.rejects(r.readFile('/lost.bin'), (e: Error & { code?: string }) => e.code === 'EIO' && e.message.includes(key) && !e.message.includes('waited'));
    } finally {
      await t.cleanup();
    }
  });

  it('is still waited for while a write-back client is alive', { timeout: 20_000 }, async () => {
    const t = await tempVolume({ blockSize: 64 << 10 });
    try {
      const key = await fileWithLostBlock(t, '/lost.bin');
      const cacheDir = await mkdtemp(join(tmpdir(), 'ferry-wb-'));
      dirs.push(cacheDir);
      await t.open({ cacheDir, writeback: true, backgroundJobs: false });
      const r = await t.open({ missingBlockWaitMs: 1500 });
      const started = Date.now();
      await assert.rejects(r.readFile('/lost.bin'), (e: Error & { code?: string }) => e.code === 'EIO' && e.message.includes(key) && /waited \d+ s for its upload/.test(e.message));
      assert.ok(Date.now() - started >= 1400, 'the reader waited for the upload');
    } finally {
      await t.cleanup();
    }
  });

  it('a GET through the gateway is an S3 error sent before any body, not a short 200', { timeout: 10_000 }, async () => {
    const g = await startGateway({}, { blockSize: 64 << 10 });
    try {
      await g.t.v.mkdir('/bkt');
      const key = await fileWithLostBlock(g.t, '/bkt/lost.bin');
      const s3 = g.client();
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'lost.bin' })), (e: Error & { $metadata?: { httpStatusCode?: number }; Code?: string }) => {
        assert.equal(e.$metadata?.httpStatusCode, 500, e.message);
        assert.equal(e.name, 'InternalError');
        assert.ok(e.message.includes(key), `${e.message} names ${key}`);
        return true;
      });
      // A block lost past the first piece read: the status is out already, so the connection is cut.
      const late = await fileWithLostBlock(g.t, '/bkt/late.bin', 48, 40);
      const res = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'late.bin' }));
      await assert.rejects(res.Body!.transformToByteArray(), 'the body is cut short, never silently');
      assert.ok(late);
    } finally {
      await g.close();
    }
  });
});
