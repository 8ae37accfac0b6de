// A ferry:// client sends the calls its concurrent callers issue together as one request (one HTTP exchange,
// one TLS record each way, one signature), each call with its own answer; a lone caller waits for nothing;
// a meta-server older than batches gets one request per call again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import { openMeta } from '../src/meta/index.js';
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-remote-batch-'));
const format = newFormat({ name: 'batch', storage: `file://${dir}/blocks`, trashDays: 0 });
process.env.FERRY_SERVICE_SECRET = format.services!.secret;
const ctx = rootContext();
let server: MetaServer;
let url: string;
let old: Server | undefined;

before(async () => {
  const db = `sqlite3://${join(dir, 'meta.db')}`;
  const m = await openMeta(db);
  await m.init(format);
  await m.close();
  server = new MetaServer(db);
  url = await server.listen('127.0.0.1', 0);
});

after(async () => {
  old?.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Requests and calls the server saw while fn ran. */
async function during(fn: () => Promise<unknown>): Promise<{ requests: number; calls: number }> {
  const r0 = server.served.requests;
  const c0 = [...server.served.calls.values()].reduce((a, b) => a + b, 0);
  await fn();
  return { requests: server.served.requests - r0, calls: [...server.served.calls.values()].reduce((a, b) => a + b, 0) - c0 };
}

describe('ferry:// batches', () => {
  it('calls issued together share a request; each gets its own answer, errors included', async () => {
    const meta = await openMeta(url);
    try {
      await meta.mkdir(ctx, ROOT_INODE, 'd', 0o755);
      let results: PromiseSettledResult<unknown>[] = [];
      const seen = await during(async () => {
        results = await Promise.allSettled([
          ...Array.from({ length: 30 }, () => meta.getattr(ctx, ROOT_INODE)),
          meta.lookup(ctx, ROOT_INODE, 'missing'),
          meta.lookup(ctx, ROOT_INODE, 'd'),
        ]);
      });
      assert.equal(seen.calls, 32);
      // The first goes out alone (nothing was in flight), the other 31 together.
      assert.ok(seen.requests <= 3, `32 calls took ${seen.requests} requests`);
      for (const r of results.slice(0, 30)) assert.equal(r.status === 'fulfilled' && (r.value as { mode: number }).mode !== undefined, true);
      const missing = results[30]!;
      assert.ok(missing.status === 'rejected' && missing.reason instanceof FsError && missing.reason.code === 'ENOENT', 'the missing name is ENOENT, alone');
      assert.equal(results[31]!.status, 'fulfilled');
    } finally {
      await meta.close();
    }
  });

  it('a lone caller sends each call at once, one request per call', async () => {
    const meta = await openMeta(url);
    try {
      await meta.getattr(ctx, ROOT_INODE);
      const seen = await during(async () => {
        for (let i = 0; i < 10; i++) await meta.getattr(ctx, ROOT_INODE);
      });
      assert.deepEqual(seen, { requests: 10, calls: 10 });
    } finally {
      await meta.close();
    }
  });

  it('a meta-server older than batches: the client falls back to one request per call, and nothing fails', async () => {
    // What a server before batches answered to a body without a method (its decode found none): ENOSYS.
    const target = new URL(url);
    let batchesRefused = 0;
    old = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if ((JSON.parse(body.toString()) as { method?: string }).method === undefined) {
          batchesRefused++;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ENOSYS', message: "unknown metadata call 'undefined'" } }));
          return;
        }
        const fwd = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        });
        fwd.end(body);
      });
    });
    await new Promise<void>((r) => old!.listen(0, '127.0.0.1', r));
    const meta: Meta = await openMeta(`ferry://127.0.0.1:${(old.address() as { port: number }).port}`);
    try {
      for (let round = 0; round < 3; round++) {
        const all = await Promise.all(Array.from({ length: 20 }, () => meta.getattr(ctx, ROOT_INODE)));
        assert.equal(all.length, 20);
      }
      assert.equal(batchesRefused, 1, 'one refused batch, then single calls');
    } finally {
      await meta.close();
    }
  });
});
