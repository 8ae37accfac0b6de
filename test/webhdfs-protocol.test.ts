// The WebHDFS protocol over raw HTTP, for what the npm client does not show: the two-step CREATE/APPEND
// (307 to the data step, noredirect=true, a chunked body, Expect: 100-continue), OPEN offset/length, the
// RemoteException JSON and its HTTP codes, the listing, summary, checksum, xattr, CONCAT, TRUNCATE and
// attribute ops, identities (simple auth, doas, anonymous) and --subdir.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { fileChecksum } from '../src/webhdfs/checksum.js';
import { volumeView } from '../src/sdk/volume.js';
import { O_RDONLY } from '../src/vfs/flags.js';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tool, toolTestOptions } from './helpers/tools.js';
import { startWebHdfs, type TestWebHdfs } from './helpers/webhdfs.js';

let w: TestWebHdfs;
before(async () => {
  w = await startWebHdfs();
  await w.t.v.mkdir('/p');
  await w.t.v.chmod('/p', 0o777);
});
after(() => w?.close());

function url(path: string, op: string, params: Record<string, string> = {}, user: string | null = 'root'): string {
  const q = new URLSearchParams({ op, ...(user === null ? {} : { 'user.name': user }), ...params });
  return `${w.base}${path}?${q}`;
}

async function json(r: Response): Promise<Record<string, any>> {
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  return (await r.json()) as Record<string, any>;
}

/** A request that must fail with this Java exception and HTTP status. */
async function fails(p: Promise<Response>, exception: string, status: number, message?: RegExp): Promise<void> {
  const r = await p;
  const body = await json(r);
  assert.equal(r.status, status, JSON.stringify(body));
  assert.equal(body.RemoteException?.exception, exception, JSON.stringify(body));
  assert.match(body.RemoteException.javaClassName, new RegExp(`\\.${exception.replace('$', '\\$')}$`));
  if (message) assert.match(body.RemoteException.message, message);
}

/** CREATE the way Hadoop's client does it: a first PUT without data, then the data to the Location. */
async function create(path: string, data: string | Buffer, params: Record<string, string> = {}, user = 'root'): Promise<Response> {
  const r1 = await fetch(url(path, 'CREATE', params, user), { method: 'PUT', redirect: 'manual' });
  if (r1.status !== 307) return r1;
  return fetch(r1.headers.get('location')!, { method: 'PUT', body: typeof data === 'string' ? data : new Uint8Array(data) });
}

describe('two-step CREATE and APPEND', () => {
  test('the first step is a 307 to the data step on this server; the data step answers 201 with a Location', async () => {
    const r1 = await fetch(url('/p/two/step.txt', 'CREATE', { overwrite: 'false' }), { method: 'PUT', redirect: 'manual' });
    assert.equal(r1.status, 307);
    const loc = new URL(r1.headers.get('location')!);
    assert.equal(loc.origin, w.url);
    assert.equal(loc.pathname, '/webhdfs/v1/p/two/step.txt');
    assert.equal(loc.searchParams.get('data'), 'true');
    assert.equal(loc.searchParams.get('user.name'), 'root');
    assert.equal(await w.t.v.exists('/p/two/step.txt'), false, 'nothing is created before the data step');
    const r2 = await fetch(loc, { method: 'PUT', body: 'two steps' });
    assert.equal(r2.status, 201);
    assert.equal(r2.headers.get('location'), `webhdfs://${loc.host}/p/two/step.txt`);
    assert.equal((await w.t.v.readFile('/p/two/step.txt', 'utf8')), 'two steps');
    // Missing parents were made with 0755 (0777 under the umask), the file with the default 0644.
    assert.equal((await w.t.v.stat('/p/two')).mode & 0o7777, 0o755);
    assert.equal((await w.t.v.stat('/p/two/step.txt')).mode & 0o7777, 0o644);
  });

  test('noredirect=true answers 200 with the Location in JSON', async () => {
    const r1 = await fetch(url('/p/nr.txt', 'CREATE', { noredirect: 'true', permission: '600' }), { method: 'PUT', redirect: 'manual' });
    assert.equal(r1.status, 200);
    const loc = (await json(r1)).Location as string;
    assert.equal(new URL(loc).searchParams.get('noredirect'), null);
    assert.equal((await fetch(loc, { method: 'PUT', body: 'nr' })).status, 201);
    assert.equal((await w.t.v.stat('/p/nr.txt')).mode & 0o7777, 0o600);
    const a1 = await fetch(url('/p/nr.txt', 'APPEND', { noredirect: 'true' }), { method: 'POST' });
    assert.equal(a1.status, 200);
    assert.equal((await fetch((await json(a1)).Location, { method: 'POST', body: '+more' })).status, 200);
    assert.equal(await w.t.v.readFile('/p/nr.txt', 'utf8'), 'nr+more');
    // OPEN tells where too.
    const o = await fetch(url('/p/nr.txt', 'OPEN', { noredirect: 'true' }));
    assert.equal(await (await fetch((await json(o)).Location)).text(), 'nr+more');
  });

  test('a chunked body with Expect: 100-continue (as curl -T and Hadoop send it)', async () => {
    const r1 = await fetch(url('/p/chunked.bin', 'CREATE'), { method: 'PUT', redirect: 'manual' });
    const loc = new URL(r1.headers.get('location')!);
    const pieces = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100_003, i));
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(loc, { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked', Expect: '100-continue' } });
      req.on('continue', () => {
        for (const p of pieces) req.write(p);
        req.end();
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
    });
    assert.equal(status, 201);
    assert.ok(Buffer.from(await w.t.v.readFile('/p/chunked.bin')).equals(Buffer.concat(pieces)));
  });

  test('CREATE over an existing file needs overwrite=true, and is refused before any data is sent', async () => {
    await create('/p/once.txt', 'first');
    await fails(fetch(url('/p/once.txt', 'CREATE'), { method: 'PUT', redirect: 'manual' }), 'FileAlreadyExistsException', 403);
    await fails(fetch(url('/p', 'CREATE', { overwrite: 'true' }), { method: 'PUT', redirect: 'manual' }), 'FileAlreadyExistsException', 403, /directory/);
    assert.equal((await create('/p/once.txt', 'second', { overwrite: 'true' })).status, 201);
    assert.equal(await w.t.v.readFile('/p/once.txt', 'utf8'), 'second');
    await fails(fetch(url('/p/missing.txt', 'APPEND'), { method: 'POST', redirect: 'manual' }), 'FileNotFoundException', 404);
  });
});

describe('curl, as the Hadoop docs use it', () => {
  test('curl -L -X PUT -T: the redirect followed, the body sent once, on the data step', toolTestOptions('curl'), async () => {
    const f = join(w.t.dir, 'upload.csv');
    const data = Buffer.alloc(3 << 20, 'csv,');
    await writeFile(f, data);
    const r = await promisify(execFile)(tool('curl'), ['-sS', '-i', '-L', '-m', '60', '-X', 'PUT', '-T', f, url('/p/curl/upload.csv', 'CREATE', {}, 'alice')]);
    const statuses = r.stdout.split('\n').filter((l) => /^HTTP\//.test(l)).map((l) => l.split(' ')[1]);
    assert.deepEqual(statuses.filter((s) => s !== '100'), ['307', '201']);
    assert.ok(Buffer.from(await w.t.v.readFile('/p/curl/upload.csv')).equals(data));
    assert.equal((await w.t.v.stat('/p/curl/upload.csv')).uid, 1001);
    const tail = await promisify(execFile)(tool('curl'), ['-sS', '-L', url('/p/curl/upload.csv', 'OPEN', { offset: String(data.length - 8) }, 'alice')]);
    assert.equal(tail.stdout, 'csv,csv,');
  });
});

describe('OPEN', () => {
  test('offset and length read a range; past the end is an error; a directory is not a file', async () => {
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await w.t.v.writeFile('/p/range.bin', data);
    const whole = await fetch(url('/p/range.bin', 'OPEN'));
    assert.equal(whole.headers.get('content-length'), '70000');
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
    const part = await fetch(url('/p/range.bin', 'OPEN', { offset: '1000', length: '5000', buffersize: '4096' }));
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 6000)));
    const tail = await fetch(url('/p/range.bin', 'OPEN', { offset: '69990', length: '100' }));
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(69990)));
    assert.equal((await (await fetch(url('/p/range.bin', 'OPEN', { offset: '70000' }))).arrayBuffer()).byteLength, 0);
    await fails(fetch(url('/p/range.bin', 'OPEN', { offset: '70001' })), 'IOException', 403, /out of the range/);
    await fails(fetch(url('/p/range.bin', 'OPEN', { offset: '-1' })), 'IllegalArgumentException', 400);
    await fails(fetch(url('/p', 'OPEN')), 'FileNotFoundException', 404, /not a file/);
  });
});

describe('errors', () => {
  test('RemoteException JSON with the Java class and the code Hadoop gives', async () => {
    await fails(fetch(url('/nope', 'GETFILESTATUS')), 'FileNotFoundException', 404, /File does not exist: \/nope/);
    await fails(fetch(url('/p', 'NOSUCHOP')), 'IllegalArgumentException', 400, /GetOpParam\.Op\.NOSUCHOP/);
    await fails(fetch(url('/p', 'MKDIRS')), 'IllegalArgumentException', 400, /GetOpParam\.Op\.MKDIRS/);
    await fails(fetch(url('/p', 'CREATESNAPSHOT'), { method: 'PUT' }), 'UnsupportedOperationException', 400, /snapshot/);
    await fails(fetch(`${w.base}/p?user.name=root`), 'IllegalArgumentException', 400, /"op"/);
    await fails(fetch(`${w.url}/other/path?op=LISTSTATUS&user.name=root`), 'FileNotFoundException', 404, /webhdfs\/v1/);
    // fetch would remove the "..": sent as it is.
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: w.server.port, path: '/webhdfs/v1/p/../etc?op=GETFILESTATUS&user.name=root' }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(raw.status, 400);
    assert.match(JSON.parse(raw.body).RemoteException.message, /Invalid path name/);
    await w.t.v.writeFile('/p/plain', 'x');
    await fails(fetch(url('/p/plain/sub', 'MKDIRS'), { method: 'PUT' }), 'ParentNotDirectoryException', 403);
    await fails(fetch(url('/p/plain', 'MKDIRS'), { method: 'PUT' }), 'FileAlreadyExistsException', 403);
    await w.t.v.mkdir('/p/full/inner', { recursive: true });
    await fails(fetch(url('/p/full', 'DELETE'), { method: 'DELETE' }), 'PathIsNotEmptyDirectoryException', 403);
    await fails(fetch(url('/p/plain', 'SETPERMISSION', { permission: '999' }), { method: 'PUT' }), 'IllegalArgumentException', 400);
  });

  test('permissions: a user cannot write into another user\'s 0755 directory (AccessControlException, 403)', async () => {
    assert.equal((await fetch(url('/p/alices', 'MKDIRS', {}, 'alice'), { method: 'PUT' })).status, 200);
    assert.equal((await w.t.v.stat('/p/alices')).uid, 1001);
    await fails(create('/p/alices/bob.txt', 'bob was here', {}, 'bob'), 'AccessControlException', 403, /Permission denied/);
    await fails(fetch(url('/p/alices/sub', 'MKDIRS', {}, 'bob'), { method: 'PUT' }), 'AccessControlException', 403);
    await fails(fetch(url('/p/alices', 'SETPERMISSION', { permission: '777' }, 'bob'), { method: 'PUT' }), 'AccessControlException', 403);
    await fails(fetch(url('/p/alices', 'SETOWNER', { owner: 'bob' }, 'alice'), { method: 'PUT' }), 'AccessControlException', 403);
    assert.equal(await w.t.v.exists('/p/alices/bob.txt'), false);
    // Group membership from the groups file: bob is in staff.
    assert.equal((await fetch(url('/p/alices', 'SETOWNER', { group: 'staff' }, 'root'), { method: 'PUT' })).status, 200);
    assert.equal((await fetch(url('/p/alices', 'SETPERMISSION', { permission: '775' }, 'alice'), { method: 'PUT' })).status, 200);
    assert.equal((await create('/p/alices/bob.txt', 'bob was here', {}, 'bob')).status, 201);
    assert.equal((await w.t.v.stat('/p/alices/bob.txt')).uid, 1002);
  });

  test('identity: unknown users and missing user.name are 401; doas only for proxy users', async () => {
    await fails(fetch(url('/p', 'GETFILESTATUS', {}, 'mallory')), 'SecurityException', 401, /Unknown user/);
    await fails(fetch(url('/p', 'GETFILESTATUS', {}, null)), 'SecurityException', 401);
    await fails(fetch(url('/p', 'GETFILESTATUS', { doas: 'alice' }, 'bob')), 'AccessControlException', 403, /not allowed to impersonate/);
    assert.equal((await fetch(url('/p/by-proxy', 'MKDIRS', { doas: 'alice' }, 'proxy'), { method: 'PUT' })).status, 200);
    assert.equal((await w.t.v.stat('/p/by-proxy')).uid, 1001);
    assert.deepEqual(await json(await fetch(url('/', 'GETHOMEDIRECTORY', { doas: 'alice' }, 'proxy'))), { Path: '/user/alice' });
    assert.deepEqual(await json(await fetch(url('/', 'GETTRASHROOT', {}, 'bob'))), { Path: '/user/bob/.Trash' });
  });
});

describe('namespace operations', () => {
  test('LISTSTATUS and LISTSTATUS_BATCH page through a directory in name order', async () => {
    await w.t.v.mkdir('/p/many');
    const names = Array.from({ length: 2500 }, (_, i) => `f${String(i).padStart(5, '0')}`);
    for (const n of names) await w.t.v.writeFile(`/p/many/${n}`, '');
    const all = await json(await fetch(url('/p/many', 'LISTSTATUS')));
    assert.deepEqual(all.FileStatuses.FileStatus.map((s: { pathSuffix: string }) => s.pathSuffix), names);
    const seen: string[] = [];
    let startAfter = '';
    let pages = 0;
    for (;;) {
      const b = (await json(await fetch(url('/p/many', 'LISTSTATUS_BATCH', startAfter ? { startAfter } : {})))).DirectoryListing;
      const list = b.partialListing.FileStatuses.FileStatus as Array<{ pathSuffix: string }>;
      seen.push(...list.map((s) => s.pathSuffix));
      pages++;
      if (b.remainingEntries === 0) break;
      startAfter = list[list.length - 1]!.pathSuffix;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, names);
    // A file lists as itself.
    const one = await json(await fetch(url('/p/many/f00001', 'LISTSTATUS')));
    assert.equal(one.FileStatuses.FileStatus.length, 1);
  });

  test('GETFILESTATUS fields, GETCONTENTSUMMARY, symlinks', async () => {
    await w.t.v.mkdir('/p/sum/d1/d2', { recursive: true });
    await w.t.v.writeFile('/p/sum/a', Buffer.alloc(1000));
    await w.t.v.writeFile('/p/sum/d1/b', Buffer.alloc(234));
    await w.t.v.writeFile('/p/sum/d1/d2/c', Buffer.alloc(10));
    const s = (await json(await fetch(url('/p/sum/a', 'GETFILESTATUS')))).FileStatus;
    const st = await w.t.v.stat('/p/sum/a');
    assert.equal(s.type, 'FILE');
    assert.equal(s.length, 1000);
    assert.equal(s.fileId, st.ino);
    assert.equal(s.modificationTime, Math.floor(st.mtimeMs));
    assert.equal(s.replication, 1);
    assert.equal(s.blockSize, 128 << 20);
    assert.equal(s.pathSuffix, '');
    const cs = (await json(await fetch(url('/p/sum', 'GETCONTENTSUMMARY')))).ContentSummary;
    assert.deepEqual([cs.directoryCount, cs.fileCount, cs.length, cs.quota, cs.spaceQuota], [3, 3, 1244, -1, -1]);
    assert.equal((await fetch(url('/p/sum/ln', 'CREATESYMLINK', { destination: '/p/sum/a' }), { method: 'PUT' })).status, 200);
    const link = (await json(await fetch(url('/p/sum/ln', 'GETFILELINKSTATUS')))).FileStatus;
    assert.equal(link.type, 'SYMLINK');
    assert.equal(link.symlink, '/p/sum/a');
    assert.equal((await json(await fetch(url('/p/sum/ln', 'GETFILESTATUS')))).FileStatus.type, 'FILE', 'GETFILESTATUS follows the link');
    assert.deepEqual(await json(await fetch(url('/p/sum/ln', 'GETLINKTARGET'))), { Path: '/p/sum/a' });
    const listed = (await json(await fetch(url('/p/sum', 'LISTSTATUS')))).FileStatus ?? (await json(await fetch(url('/p/sum', 'LISTSTATUS')))).FileStatuses.FileStatus;
    assert.equal(listed.find((e: { pathSuffix: string }) => e.pathSuffix === 'ln').type, 'SYMLINK');
  });

  test('RENAME: into a directory, refused over an existing file (false), renameoptions=OVERWRITE', async () => {
    await w.t.v.mkdir('/p/rn/into', { recursive: true });
    await w.t.v.writeFile('/p/rn/a', 'a');
    await w.t.v.writeFile('/p/rn/b', 'b');
    const rename = async (src: string, dst: string, extra: Record<string, string> = {}) => fetch(url(src, 'RENAME', { destination: dst, ...extra }), { method: 'PUT' });
    assert.deepEqual(await json(await rename('/p/rn/a', '/p/rn/b')), { boolean: false });
    assert.equal(await w.t.v.readFile('/p/rn/b', 'utf8'), 'b');
    assert.deepEqual(await json(await rename('/p/rn/missing', '/p/rn/c')), { boolean: false });
    assert.deepEqual(await json(await rename('/p/rn/a', '/p/rn/into')), { boolean: true });
    assert.equal(await w.t.v.readFile('/p/rn/into/a', 'utf8'), 'a');
    await fails(rename('/p/rn/into/a', '/p/rn/b', { renameoptions: 'NONE' }), 'FileAlreadyExistsException', 403);
    assert.equal((await rename('/p/rn/into/a', '/p/rn/b', { renameoptions: 'OVERWRITE' })).status, 200);
    assert.equal(await w.t.v.readFile('/p/rn/b', 'utf8'), 'a');
    await fails(rename('/p/rn/b', 'relative'), 'IllegalArgumentException', 400);
  });

  test('DELETE recursive, of a missing path (false), never of the root', async () => {
    await w.t.v.mkdir('/p/del/x/y', { recursive: true });
    await w.t.v.writeFile('/p/del/x/y/f', 'f');
    assert.deepEqual(await json(await fetch(url('/p/del', 'DELETE', { recursive: 'true' }), { method: 'DELETE' })), { boolean: true });
    assert.equal(await w.t.v.exists('/p/del'), false);
    assert.deepEqual(await json(await fetch(url('/p/del', 'DELETE'), { method: 'DELETE' })), { boolean: false });
    assert.deepEqual(await json(await fetch(url('/', 'DELETE', { recursive: 'true' }), { method: 'DELETE' })), { boolean: false });
  });

  test('TRUNCATE, CONCAT (sources removed), SETTIMES, SETREPLICATION', async () => {
    await w.t.v.writeFile('/p/t.txt', '0123456789');
    assert.deepEqual(await json(await fetch(url('/p/t.txt', 'TRUNCATE', { newlength: '4' }), { method: 'POST' })), { boolean: true });
    assert.equal(await w.t.v.readFile('/p/t.txt', 'utf8'), '0123');
    await fails(fetch(url('/p/t.txt', 'TRUNCATE', { newlength: '40' }), { method: 'POST' }), 'IllegalArgumentException', 400);
    const big = Buffer.alloc(5 << 20, 7);
    await w.t.v.writeFile('/p/c1', big);
    await w.t.v.writeFile('/p/c2', 'tail');
    assert.equal((await fetch(url('/p/t.txt', 'CONCAT', { sources: '/p/c1,/p/c2' }), { method: 'POST' })).status, 200);
    assert.ok(Buffer.from(await w.t.v.readFile('/p/t.txt')).equals(Buffer.concat([Buffer.from('0123'), big, Buffer.from('tail')])));
    assert.equal(await w.t.v.exists('/p/c1'), false);
    assert.equal(await w.t.v.exists('/p/c2'), false);
    await fails(fetch(url('/p/t.txt', 'CONCAT', { sources: '/p/nothere' }), { method: 'POST' }), 'FileNotFoundException', 404);
    assert.equal((await fetch(url('/p/t.txt', 'SETTIMES', { modificationtime: '1500000000123', accesstime: '-1' }), { method: 'PUT' })).status, 200);
    assert.equal((await w.t.v.stat('/p/t.txt')).mtimeMs, 1500000000123);
    assert.deepEqual(await json(await fetch(url('/p/t.txt', 'SETREPLICATION', { replication: '3' }), { method: 'PUT' })), { boolean: true });
    assert.equal((await json(await fetch(url('/p/t.txt', 'GETFILESTATUS')))).FileStatus.replication, 1, 'replication stays 1: accepted, no-op');
  });

  test('xattrs: set (CREATE/REPLACE), get in three encodings, list, remove', async () => {
    await w.t.v.writeFile('/p/x.txt', 'x');
    const put = (params: Record<string, string>) => fetch(url('/p/x.txt', 'SETXATTR', params), { method: 'PUT' });
    assert.equal((await put({ 'xattr.name': 'user.color', 'xattr.value': '"blue"', flag: 'CREATE' })).status, 200);
    assert.equal((await put({ 'xattr.name': 'user.bin', 'xattr.value': '0x00ff10', flag: 'CREATE' })).status, 200);
    await fails(put({ 'xattr.name': 'user.color', 'xattr.value': '"red"', flag: 'CREATE' }), 'IOException', 403, /already exists/);
    assert.equal((await put({ 'xattr.name': 'user.color', 'xattr.value': '0sZ3JlZW4=', flag: 'REPLACE' })).status, 200);
    await fails(put({ 'xattr.name': 'color', 'xattr.value': '"x"' }), 'IllegalArgumentException', 400, /prefixed/);
    assert.equal(Buffer.from(await w.t.v.getxattr('/p/x.txt', 'user.color')).toString(), 'green');
    const text = await json(await fetch(url('/p/x.txt', 'GETXATTRS', { 'xattr.name': 'user.color', encoding: 'text' })));
    assert.deepEqual(text, { XAttrs: [{ name: 'user.color', value: '"green"' }] });
    const hex = await json(await fetch(url('/p/x.txt', 'GETXATTRS', { 'xattr.name': 'user.bin', encoding: 'hex' })));
    assert.deepEqual(hex.XAttrs, [{ name: 'user.bin', value: '0x00ff10' }]);
    const b64 = await json(await fetch(url('/p/x.txt', 'GETXATTRS', { encoding: 'base64' })));
    assert.deepEqual(b64.XAttrs.map((x: { name: string }) => x.name).sort(), ['user.bin', 'user.color']);
    const names = await json(await fetch(url('/p/x.txt', 'LISTXATTRS')));
    assert.deepEqual(JSON.parse(names.XAttrNames).sort(), ['user.bin', 'user.color']);
    assert.equal((await fetch(url('/p/x.txt', 'REMOVEXATTR', { 'xattr.name': 'user.bin' }), { method: 'PUT' })).status, 200);
    await fails(fetch(url('/p/x.txt', 'GETXATTRS', { 'xattr.name': 'user.bin', encoding: 'hex' })), 'IOException', 403, /not found/);
  });

  test('GETFILECHECKSUM is HDFS\'s MD5-of-MD5-of-CRC32C', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    await w.t.v.writeFile('/p/sum.bin', data);
    // Computed here from the definition: a CRC32C per 512 bytes, MD5 of the CRCs (one block), MD5 of that.
    const crcs = Buffer.alloc(4 * Math.ceil(data.length / 512));
    for (let i = 0; i < data.length; i += 512) crcs.writeUInt32BE(crc32c(data.subarray(i, i + 512)) >>> 0, (i / 512) * 4);
    const md5 = createHash('md5').update(createHash('md5').update(crcs).digest()).digest('hex');
    const c = (await json(await fetch(url('/p/sum.bin', 'GETFILECHECKSUM')))).FileChecksum;
    assert.deepEqual(c, { algorithm: 'MD5-of-0MD5-of-512CRC32C', bytes: '00000200' + '0000000000000000' + md5, length: 28 });
    // Several blocks (a small block size here): crcPerBlock is named, one MD5 per block.
    const view = volumeView(w.t.v);
    const { fh } = await view.open((await view.resolve('/p/sum.bin')).inode, O_RDONLY);
    const multi = await fileChecksum(view, fh, data.length, 1024).finally(() => view.release(fh));
    const blocks = [0, 1024, 2048].map((b) => createHash('md5').update(crcs.subarray((b / 512) * 4, ((b + 1024) / 512) * 4)).digest());
    assert.equal(multi.algorithm, 'MD5-of-2MD5-of-512CRC32C');
    assert.equal(multi.bytes, '00000200' + '0000000000000002' + createHash('md5').update(Buffer.concat(blocks)).digest('hex'));
  });

  test('server defaults, storage policy, block locations, CHECKACCESS, GETSTATUS, GETACLSTATUS', async () => {
    const d = (await json(await fetch(url('/', 'GETSERVERDEFAULTS')))).FsServerDefaults;
    assert.equal(d.blockSize, 128 << 20);
    assert.equal(d.checksumType, 'CRC32C');
    assert.equal((await json(await fetch(url('/p', 'GETSTORAGEPOLICY')))).BlockStoragePolicy.name, 'HOT');
    assert.equal((await json(await fetch(url('/', 'GETALLSTORAGEPOLICY')))).BlockStoragePolicies.BlockStoragePolicy.length, 1);
    await w.t.v.writeFile('/p/loc.bin', Buffer.alloc(1000));
    const locs = (await json(await fetch(url('/p/loc.bin', 'GETFILEBLOCKLOCATIONS')))).BlockLocations.BlockLocation;
    assert.deepEqual(locs.map((l: { offset: number; length: number }) => [l.offset, l.length]), [[0, 1000]]);
    await w.t.v.mkdir('/p/private', { mode: 0o700 });
    assert.equal((await fetch(url('/p/private', 'CHECKACCESS', { fsaction: 'r-x' }, 'root'))).status, 200);
    await fails(fetch(url('/p/private', 'CHECKACCESS', { fsaction: 'r-x' }, 'alice')), 'AccessControlException', 403);
    await fails(fetch(url('/p/private', 'LISTSTATUS', {}, 'alice')), 'AccessControlException', 403);
    const fs = (await json(await fetch(url('/', 'GETSTATUS')))).FsStatus;
    assert.ok(fs.capacity > 0 && fs.used >= 0 && fs.remaining > 0);
    const acl = (await json(await fetch(url('/p/private', 'GETACLSTATUS')))).AclStatus;
    assert.deepEqual(acl, { entries: [], owner: 'root', group: 'root', permission: '700', stickyBit: false });
  });
});

describe('server options', () => {
  test('--subdir serves one directory as the root; absolute links and .. stay inside', async () => {
    await w.t.v.mkdir('/tenant/data', { recursive: true });
    await w.t.v.writeFile('/tenant/data/in.txt', 'inside');
    await w.t.v.writeFile('/secret.txt', 'outside');
    const sub = await startWebHdfs({ subdir: '/tenant' }, {}, w.t);
    try {
      const u = (p: string, op: string, extra: Record<string, string> = {}) => `${sub.base}${p}?${new URLSearchParams({ op, 'user.name': 'root', ...extra })}`;
      const list = (await (await fetch(u('/', 'LISTSTATUS'))).json()) as any;
      assert.deepEqual(list.FileStatuses.FileStatus.map((s: { pathSuffix: string }) => s.pathSuffix), ['data']);
      assert.equal(await (await fetch(u('/data/in.txt', 'OPEN'))).text(), 'inside');
      assert.equal((await fetch(u('/secret.txt', 'GETFILESTATUS'))).status, 404);
      await fetch(u('/data/up', 'CREATESYMLINK', { destination: '/secret.txt' }), { method: 'PUT' });
      assert.equal((await fetch(u('/data/up', 'OPEN'))).status, 404, 'an absolute link resolves inside the subdir');
      assert.equal(await w.t.v.readlink('/tenant/data/up'), '/secret.txt');
    } finally {
      await sub.close();
    }
  });

  test('--anonymous serves requests without user.name as its uid; simple auth off refuses user.name', async () => {
    const anon = await startWebHdfs({ allowSimpleAuth: false, anonymous: { uid: 1003, gid: 1003 }, usersFile: undefined, proxyUsers: [] }, {}, w.t);
    try {
      const r = await fetch(`${anon.base}/p/anon?op=MKDIRS`, { method: 'PUT' });
      assert.equal(r.status, 200);
      assert.equal((await w.t.v.stat('/p/anon')).uid, 1003);
      await fails(fetch(`${anon.base}/p?op=GETFILESTATUS&user.name=root`), 'SecurityException', 401, /--allow-simple-auth/);
    } finally {
      await anon.close();
    }
  });
});
