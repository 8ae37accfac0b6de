// Operations on file contents: OPEN (streamed, offset/length), CREATE and APPEND (the two-step protocol:
// the first request is redirected with 307 to where the data goes, here the same server with data=true, as
// HttpFS does), CONCAT (slices shared, no bytes copied), TRUNCATE and GETFILECHECKSUM.
import { pipeline } from 'node:stream/promises';
import { FsError, isFsError } from '../../errors.js';
import { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } from '../../vfs/flags.js';
import { handleReadStream } from '../../vfs/stream.js';
import { Access, isDirectory, TYPE_DIRECTORY, type VfsView } from '../../vfs/view.js';
import { boolParam, intParam, permissionParam, requiredParam, sendEmpty, sendJson, type Call } from '../call.js';
import { fileChecksum } from '../checksum.js';
import { badParam, hdfsErr } from '../errors.js';
import { baseName, checkPath, parentPath, PREFIX } from '../paths.js';

/** Bytes gathered from the request before one write into the file. */
const WRITE_BATCH = 1 << 20;

/** The URL of the data step: the same request with data=true (and without noredirect). */
function dataUrl(c: Call): string {
  const q = new URLSearchParams(c.query);
  q.delete('noredirect');
  q.set('data', 'true');
  const path = c.path.split('/').map(encodeURIComponent).join('/');
  return `${c.origin}${PREFIX}${path}?${q}`;
}

/** True when this is the data step; otherwise answers the first step (307, or 200 with noredirect=true). */
export function dataStep(c: Call): boolean {
  if (boolParam(c.query, 'data', false)) return true;
  const location = dataUrl(c);
  if (boolParam(c.query, 'noredirect', false)) sendJson(c.res, { Location: location });
  else {
    // A client that sent its data with the first step anyway: the connection closes instead of reading it.
    if (c.req.headers['content-length'] !== undefined && c.req.headers['content-length'] !== '0') c.res.setHeader('Connection', 'close');
    if (c.req.headers['transfer-encoding'] !== undefined) c.res.setHeader('Connection', 'close');
    sendEmpty(c.res, 307, { Location: location });
  }
  return false;
}

export async function open(c: Call): Promise<void> {
  // Reads are answered directly (as HttpFS does; Hadoop's client accepts both): noredirect still tells where.
  if (boolParam(c.query, 'noredirect', false) && !boolParam(c.query, 'data', false)) return sendJson(c.res, { Location: dataUrl(c) });
  const offset = intParam(c.query, 'offset', 0)!;
  const length = intParam(c.query, 'length', undefined);
  intParam(c.query, 'buffersize', undefined, 1);
  const r = await c.view.resolve(c.path, true);
  if (isDirectory(r.attr)) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  const { fh, attr } = await c.view.open(r.inode, O_RDONLY);
  try {
    const size = attr.length;
    if (offset > size) throw hdfsErr('IOException', `Offset=${offset} out of the range [0, ${size}]; the file ${c.path} is ${size} bytes`);
    const n = Math.min(size - offset, length ?? Infinity);
    c.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n });
    if (n === 0) {
      c.res.end();
      return;
    }
    const body = handleReadStream(c.view, fh, { start: offset, end: offset + n - 1 });
    await pipeline(body, c.res);
  } finally {
    await c.view.release(fh).catch(() => undefined);
  }
}

/** Streams the request body into open handle fh, from offset `at` (ignored under O_APPEND); returns the bytes written. */
async function writeBody(c: Call, fh: number, at: number): Promise<number> {
  let off = at;
  let parts: Buffer[] = [];
  let held = 0;
  const flush = async () => {
    if (!held) return;
    const b = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    parts = [];
    held = 0;
    await c.view.write(fh, off, b);
    off += b.length;
  };
  for await (const chunk of c.req as AsyncIterable<Buffer>) {
    parts.push(chunk);
    held += chunk.length;
    if (held >= WRITE_BATCH) await flush();
  }
  await flush();
  return off - at;
}

function checkWriteParams(c: Call): void {
  intParam(c.query, 'buffersize', undefined, 1);
  intParam(c.query, 'blocksize', undefined, 1);
  intParam(c.query, 'replication', undefined, 1, 32767);
}

export async function create(c: Call): Promise<void> {
  checkWriteParams(c);
  const overwrite = boolParam(c.query, 'overwrite', false);
  const mode = permissionParam(c.query, 0o644);
  if (c.path === '/') throw hdfsErr('FileAlreadyExistsException', '/ already exists as a directory');
  // Refused before the client sends its data: a file that exists without overwrite, a directory.
  const found = await existing(c.view, c.path);
  if (found?.type === TYPE_DIRECTORY) throw hdfsErr('FileAlreadyExistsException', `${c.path} already exists as a directory`);
  if (found && !overwrite) throw hdfsErr('FileAlreadyExistsException', `${c.path} for client ${c.req.socket.remoteAddress} already exists`);
  if (!dataStep(c)) return;
  // HDFS creates missing parents (with the default directory permission, under the umask).
  const dir = (await c.view.mkdirs(parentPath(c.path), 0o777)).inode;
  const name = baseName(c.path);
  let r;
  try {
    r = await c.view.create(dir, name, mode, O_WRONLY | O_CREAT | O_EXCL);
  } catch (e) {
    if (!isFsError(e, 'EEXIST') || !overwrite) throw e;
    // overwrite=true: HDFS deletes the old file and creates a new one (new owner, new permission).
    const old = await c.view.lookup(dir, name);
    if (isDirectory(old.attr)) throw hdfsErr('FileAlreadyExistsException', `${c.path} already exists as a directory`);
    await c.view.unlink(dir, name);
    r = await c.view.create(dir, name, mode, O_WRONLY | O_CREAT | O_EXCL);
  }
  let ok = false;
  try {
    await writeBody(c, r.fh, 0);
    ok = true;
  } finally {
    await c.view.release(r.fh).catch((e) => {
      if (ok) throw e;
    });
    // A body cut short leaves no half file that looks whole.
    if (!ok) await c.view.unlink(dir, name).catch(() => undefined);
  }
  sendEmpty(c.res, 201, { Location: `webhdfs://${c.req.headers.host ?? 'localhost'}${c.path}` });
}

async function existing(view: VfsView, path: string) {
  try {
    return (await view.resolve(path, true)).attr;
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

export async function append(c: Call): Promise<void> {
  intParam(c.query, 'buffersize', undefined, 1);
  const found = await existing(c.view, c.path);
  if (!found) throw hdfsErr('FileNotFoundException', `File does not exist: ${c.path}`);
  if (found.type === TYPE_DIRECTORY) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  if (!dataStep(c)) return;
  const r = await c.view.resolve(c.path, true);
  const { fh } = await c.view.open(r.inode, O_WRONLY | O_APPEND);
  try {
    await writeBody(c, fh, 0);
  } finally {
    await c.view.release(fh);
  }
  sendEmpty(c.res, 200);
}

export async function truncate(c: Call): Promise<void> {
  const newLength = intParam(c.query, 'newlength', undefined);
  if (newLength === undefined) throw badParam('newlength', null, 'TRUNCATE needs it');
  const r = await c.view.resolve(c.path, true);
  if (isDirectory(r.attr)) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  if (newLength > r.attr.length) throw hdfsErr('IllegalArgumentException', `Cannot truncate to a larger file size. Current size: ${r.attr.length}, truncate size: ${newLength}.`);
  await c.view.truncate(r.inode, newLength);
  sendJson(c.res, { boolean: true });
}

/** CONCAT sources=/a,/b: their data appended to the target (slices shared, nothing copied), then they are removed. */
export async function concat(c: Call): Promise<void> {
  const sources = requiredParam(c.query, 'sources')
    .split(',')
    .map((s) => checkPath(s.trim(), 'sources'));
  if (new Set(sources).size !== sources.length) throw hdfsErr('IllegalArgumentException', 'concat: the sources contain duplicates');
  if (sources.includes(c.path)) throw hdfsErr('IllegalArgumentException', `concat: the target ${c.path} is among the sources`);
  const target = await c.view.resolve(c.path, true);
  if (isDirectory(target.attr)) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  const src = [];
  for (const s of sources) {
    let r;
    try {
      r = await c.view.resolve(s, false);
    } catch (e) {
      if (isFsError(e, 'ENOENT')) throw hdfsErr('FileNotFoundException', `File does not exist: ${s}`);
      throw e;
    }
    if (r.attr.type !== target.attr.type) throw hdfsErr('IllegalArgumentException', `concat: source ${s} is not a file`);
    if (r.inode === target.inode) throw hdfsErr('IllegalArgumentException', `concat: source ${s} is the target`);
    // The sources are deleted: their directory must allow it, checked before anything changes.
    const { parent } = await c.view.parentOf(s);
    await c.view.access(parent, Access.MODIFY);
    src.push({ path: s, ...r });
  }
  const out = await c.view.open(target.inode, O_WRONLY);
  try {
    let at = out.attr.length;
    for (const s of src) {
      const inp = await c.view.open(s.inode, O_RDONLY);
      try {
        for (let off = 0; off < inp.attr.length; ) {
          const n = await c.view.copyFileRange(inp.fh, off, out.fh, at, inp.attr.length - off);
          if (n <= 0) throw new FsError('EIO', { message: `concat: copying ${s.path} stopped at ${off}` });
          off += n;
          at += n;
        }
      } finally {
        await c.view.release(inp.fh);
      }
    }
  } finally {
    await c.view.release(out.fh);
  }
  for (const s of src) {
    const { parent, name } = await c.view.parentOf(s.path);
    await c.view.unlink(parent, name);
  }
  sendEmpty(c.res, 200);
}

export async function getFileChecksum(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  if (isDirectory(r.attr)) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  const { fh, attr } = await c.view.open(r.inode, O_RDONLY);
  try {
    sendJson(c.res, { FileChecksum: await fileChecksum(c.view, fh, attr.length) });
  } finally {
    await c.view.release(fh).catch(() => undefined);
  }
}
