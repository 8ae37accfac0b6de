// FileHandle shaped like node:fs/promises's, over a VFS handle; streams apply backpressure because
// every write waits for room in the client's shared write buffer.
import { Readable, Writable } from 'node:stream';
import { FsError } from '../errors.js';
import { SET_GID, SET_MODE, SET_UID } from '../meta/types.js';
import { O_APPEND } from '../vfs/flags.js';
import { handleReadStream } from '../vfs/stream.js';
import type { VfsView } from '../vfs/view.js';
import { Stats } from './stats.js';
import { toTimeAttrs, type TimeLike } from './times.js';

export interface ReadResult {
  bytesRead: number;
  buffer: Buffer;
}

export interface WriteResult {
  bytesWritten: number;
  buffer: Buffer;
}

export interface ReadStreamOptions {
  start?: number;
  /** Inclusive, as in node:fs. */
  end?: number;
  highWaterMark?: number;
}

export interface WriteStreamOptions {
  start?: number;
  highWaterMark?: number;
}

const CHUNK = 1 << 20;

/** Made by Volume.open (the package exports only its type, as node:fs/promises does). */
export class FileHandle {
  /** Current position for reads/writes that pass no position. */
  private pos = 0;
  private closed = false;

  constructor(
    private readonly view: VfsView,
    readonly fd: number,
    readonly ino: number,
    private readonly path: string,
    private readonly dev: number,
  ) {}

  private check(): void {
    if (this.closed) throw new FsError('EBADF', { syscall: 'read', path: this.path });
  }

  private wrap<T>(syscall: string, p: Promise<T>): Promise<T> {
    return p.catch((e) => {
      throw e instanceof FsError ? e.withContext(syscall, this.path) : e;
    });
  }

  async read(
    bufOrOpts?: Buffer | { buffer?: Buffer; offset?: number; length?: number; position?: number | null },
    offset = 0,
    length?: number,
    position?: number | null,
  ): Promise<ReadResult> {
    this.check();
    let buffer: Buffer;
    if (Buffer.isBuffer(bufOrOpts) || bufOrOpts instanceof Uint8Array) {
      buffer = Buffer.from(bufOrOpts.buffer, bufOrOpts.byteOffset, bufOrOpts.byteLength);
    } else {
      const o = bufOrOpts ?? {};
      buffer = o.buffer ?? Buffer.alloc(16384);
      offset = o.offset ?? 0;
      length = o.length;
      position = o.position;
    }
    const len = Math.min(length ?? buffer.length - offset, buffer.length - offset);
    const at = position === null || position === undefined || position < 0 ? this.pos : position;
    const data = await this.wrap('read', this.view.read(this.fd, at, len));
    data.copy(buffer, offset);
    if (position === null || position === undefined || position < 0) this.pos += data.length;
    return { bytesRead: data.length, buffer };
  }

  async write(
    data: Buffer | Uint8Array | string,
    offsetOrPosition?: number | null,
    lengthOrEncoding?: number | BufferEncoding,
    position?: number | null,
  ): Promise<WriteResult> {
    this.check();
    let buf: Buffer;
    let at: number | null | undefined;
    if (typeof data === 'string') {
      buf = Buffer.from(data, typeof lengthOrEncoding === 'string' ? lengthOrEncoding : 'utf8');
      at = offsetOrPosition;
    } else {
      const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const off = offsetOrPosition ?? 0;
      const len = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : b.length - off;
      buf = b.subarray(off, off + len);
      at = position;
    }
    const current = at === null || at === undefined;
    const off = current ? this.pos : at!;
    await this.wrap('write', this.view.write(this.fd, off, buf));
    if (current) this.pos = (this.view.flags(this.fd) & O_APPEND ? (await this.view.getattr(this.ino)).length : off + buf.length);
    return { bytesWritten: buf.length, buffer: buf };
  }

  async readFile(opts?: { encoding?: BufferEncoding } | BufferEncoding): Promise<Buffer | string> {
    this.check();
    const enc = typeof opts === 'string' ? opts : opts?.encoding;
    const parts: Buffer[] = [];
    for (;;) {
      const b = await this.wrap('read', this.view.read(this.fd, this.pos, CHUNK));
      if (b.length === 0) break;
      parts.push(b);
      this.pos += b.length;
    }
    const all = Buffer.concat(parts);
    return enc ? all.toString(enc) : all;
  }

  async writeFile(data: Buffer | Uint8Array | string, opts?: { encoding?: BufferEncoding } | BufferEncoding): Promise<void> {
    const enc = typeof opts === 'string' ? opts : opts?.encoding;
    const buf = typeof data === 'string' ? Buffer.from(data, enc ?? 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let off = 0; off < buf.length || off === 0; off += CHUNK) {
      await this.write(buf.subarray(off, off + CHUNK));
      if (buf.length === 0) break;
    }
  }

  appendFile(data: Buffer | Uint8Array | string, opts?: { encoding?: BufferEncoding } | BufferEncoding): Promise<void> {
    return this.writeFile(data, opts);
  }

  async stat(): Promise<Stats> {
    this.check();
    await this.view.flushInode(this.ino);
    return new Stats(this.ino, await this.wrap('fstat', this.view.getattr(this.ino)), this.dev);
  }

  async truncate(len = 0): Promise<void> {
    this.check();
    await this.wrap('ftruncate', this.view.truncate(this.ino, len));
  }

  async sync(): Promise<void> {
    this.check();
    await this.wrap('fsync', this.view.fsync(this.fd));
  }

  datasync(): Promise<void> {
    return this.sync();
  }

  async chmod(mode: number): Promise<void> {
    this.check();
    await this.wrap('fchmod', this.view.setattr(this.ino, SET_MODE, { mode }));
  }

  async chown(uid: number, gid: number): Promise<void> {
    this.check();
    await this.wrap('fchown', this.view.setattr(this.ino, SET_UID | SET_GID, { uid, gid }));
  }

  async utimes(atime: TimeLike, mtime: TimeLike): Promise<void> {
    this.check();
    const { set, attr } = toTimeAttrs(atime, mtime);
    await this.wrap('futime', this.view.setattr(this.ino, set, attr));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wrap('close', this.view.release(this.fd));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A Readable of [start, end] (end inclusive); closes the handle when done unless autoClose is false (as node:fs). */
  createReadStream(opts: ReadStreamOptions & { autoClose?: boolean } = {}): Readable {
    return handleReadStream(this.view, this.fd, { ...opts, onClose: (opts.autoClose ?? true) ? () => this.close() : undefined });
  }

  /** A Writable from `start`; each write resolves once the client buffered it; closes the handle at the end unless autoClose is false. */
  createWriteStream(opts: WriteStreamOptions & { autoClose?: boolean } = {}): Writable {
    let off = opts.start ?? this.pos;
    return new Writable({
      highWaterMark: opts.highWaterMark ?? CHUNK,
      write: (chunk: Buffer, _enc, cb) => {
        this.wrap('write', this.view.write(this.fd, off, chunk)).then(() => {
          off += chunk.length;
          cb();
        }, cb);
      },
      final: (cb) => {
        const done = (opts.autoClose ?? true) ? this.close() : this.wrap('fsync', this.view.flush(this.fd));
        done.then(() => cb(), cb);
      },
    });
  }
}
