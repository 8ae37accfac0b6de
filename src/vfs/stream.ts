// A Readable over an open handle of a VfsView, shared by the SDK's FileHandle and the S3 gateway's GET.
import { Readable } from 'node:stream';
import { fsErr } from '../errors.js';
import { canRead } from './flags.js';
import type { VfsView } from './view.js';

export interface HandleReadStreamOptions {
  start?: number;
  /** Inclusive, as in node:fs. */
  end?: number;
  highWaterMark?: number;
  /** Runs when the stream ends or is destroyed (e.g. closes the handle). */
  onClose?: () => Promise<void>;
}

const CHUNK = 1 << 20;

/** The bytes [start, end] of handle fh; EBADF if it was not opened for reading. */
export function handleReadStream(view: VfsView, fh: number, opts: HandleReadStreamOptions = {}): Readable {
  if (!canRead(view.flags(fh))) throw fsErr('EBADF');
  let off = opts.start ?? 0;
  const end = opts.end === undefined ? Infinity : opts.end + 1;
  const size = opts.highWaterMark ?? CHUNK;
  const stream: Readable = new Readable({
    highWaterMark: size,
    read: (n) => {
      const want = Math.min(Math.max(n, size), end - off);
      if (want <= 0) {
        stream.push(null);
        return;
      }
      view.read(fh, off, want).then(
        (b) => {
          off += b.length;
          // A stream's chunks belong to its consumer, who may modify them: never hand out a cached block.
          stream.push(b.length ? Buffer.from(b) : null);
        },
        (e) => stream.destroy(e),
      );
    },
    destroy: (err, cb) => {
      if (opts.onClose) opts.onClose().then(() => cb(err), (e) => cb(err ?? e));
      else cb(err);
    },
  });
  return stream;
}
