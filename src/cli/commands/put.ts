// ferry put META-URL LOCAL... DEST: copies local files and directory trees into a volume (like cp -r),
// streaming each file with backpressure so nothing is held in memory whole.
import { FsError } from '../../errors.js';
import { flag, volumePath, type Command, type Parsed } from '../args.js';
import { localStat } from '../local.js';
import { Progress, formatBytes, formatDuration, formatRate, out } from '../output.js';
import { joinVolumePath, statOrNone, withVolume } from '../volume.js';
import type { Volume } from '../../sdk/index.js';

const command: Command = {
  spec: {
    name: 'put',
    summary: 'Copy local files or directories into a volume.',
    usage: 'META-URL LOCAL... DEST',
    description: [
      'Copies each LOCAL file or directory (recursively) to DEST inside the volume, like `cp -r`: when DEST',
      'is an existing directory (or ends with /, or several LOCALs are given) each LOCAL is copied into it',
      'under its own name; otherwise the single LOCAL is copied as DEST. Existing files are overwritten.',
      'Permission bits are kept; symlinks are copied as symlinks; sockets, FIFOs and devices are skipped.',
      'With -p, modification and access times and the exact modes (no umask) are kept too, like `cp -p`.',
      'Each file is written under a temporary name next to DEST and renamed when complete, so an',
      'interrupted put (Ctrl-C) leaves no partial file and deletes the blocks it uploaded for it.',
      'Prints the number of files, bytes and speed; shows progress when stderr is a terminal.',
    ].join('\n'),
    examples: ['ferry put sqlite3://ferry-data/meta.db ./src /src', 'ferry put -p sqlite3://ferry-data/meta.db model.bin config.json /models/'],
    options: {
      preserve: { type: 'boolean', short: 'p', help: 'keep modification and access times and exact modes (like cp -p)' },
    },
    minArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const args = p.args.slice();
    const metaUrl = args.shift()!;
    const destRaw = args.pop()!;
    const sources = args;
    const dest = volumePath(destRaw);
    const fs = await import('node:fs/promises');
    const { basename, resolve, join } = await import('node:path');
    const { randomBytes } = await import('node:crypto');
    const preserve = flag(p, 'preserve');
    const { createReadStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    // Local mistakes are found before the volume is opened.
    const tops: Array<{ src: string; st: import('node:fs').Stats }> = [];
    for (const s of sources) tops.push({ src: s, st: await localStat(s) });

    await withVolume(metaUrl, 'put', async (vol: Volume, signal: AbortSignal) => {
      const progress = new Progress('put');
      const started = Date.now();
      let files = 0;
      let dirs = 0;
      let links = 0;
      let skipped = 0;
      let bytes = 0;
      const show = () => progress.update(`${files} files, ${dirs} dirs, ${formatBytes(bytes)} (${formatRate(bytes, Date.now() - started)})`);

      /** Keeps times (and the exact mode, which the umask trimmed at create) with -p. */
      const keep = async (target: string, st: import('node:fs').Stats) => {
        if (!preserve) return;
        await vol.chmod(target, st.mode & 0o7777);
        await vol.utimes(target, st.atimeMs / 1000, st.mtimeMs / 1000);
      };

      // Written under a temporary name and renamed when complete: an interrupted or failed copy never
      // leaves a partial (or 0-byte) file at the target, and its blocks are freed with the temporary file.
      const putFile = async (local: string, target: string, st: import('node:fs').Stats) => {
        const slash = target.lastIndexOf('/');
        const temp = `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.ferry-put-${randomBytes(4).toString('hex')}`;
        const fh = await vol.open(temp, 'wx', st.mode & 0o7777);
        let done = false;
        try {
          try {
            await pipeline(
              createReadStream(local, { highWaterMark: 1 << 20 }),
              async function* (src: AsyncIterable<Buffer>) {
                for await (const chunk of src) {
                  bytes += chunk.length;
                  show();
                  yield chunk;
                }
              },
              fh.createWriteStream({ autoClose: false }),
              { signal },
            );
          } finally {
            await fh.close();
          }
          await keep(temp, st);
          await vol.rename(temp, target);
          done = true;
        } catch (e) {
          // The temporary name is put's own business: the error names the file the user asked for.
          if (e instanceof FsError && e.path === temp) throw new FsError(e.code, { syscall: e.syscall, path: target, message: e.description, cause: e.cause });
          throw e;
        } finally {
          if (!done) {
            await vol.unlink(temp, { skipTrash: true }).catch(() => undefined);
            // Its blocks go now, not at the next client's background job.
            await vol.settle().catch(() => undefined);
          }
        }
        files++;
        show();
      };

      const copy = async (local: string, target: string, st: import('node:fs').Stats): Promise<void> => {
        signal.throwIfAborted();
        if (st.isDirectory()) {
          // Created writable for its owner so its entries can be added; its own mode is set after them.
          await vol.mkdir(target, { recursive: true, mode: (st.mode & 0o7777) | 0o700 });
          dirs++;
          const names = (await fs.readdir(local)).sort();
          for (const name of names) {
            const child = join(local, name);
            await copy(child, joinVolumePath(target, name), await fs.lstat(child));
          }
          if (preserve) await keep(target, st);
          else if ((st.mode & 0o700) !== 0o700) await vol.chmod(target, (await vol.stat(target)).mode & 0o7777 & ~(0o700 & ~st.mode));
        } else if (st.isFile()) {
          await putFile(local, target, st);
        } else if (st.isSymbolicLink()) {
          const linkTarget = await fs.readlink(local);
          await vol.rm(target, { force: true });
          await vol.symlink(linkTarget, target);
          links++;
        } else {
          skipped++;
          progress.done();
          process.stderr.write(`ferry: skipping local ${local}: not a regular file, directory or symlink\n`);
        }
      };

      const existing = await statOrNone(vol, dest);
      const intoDir = sources.length > 1 || destRaw.endsWith('/') || existing?.isDirectory() === true;
      if (intoDir && existing && !existing.isDirectory()) throw new Error(`destination '${dest}' in the volume is not a directory`);
      if (intoDir && !existing) await vol.mkdir(dest, { recursive: true });
      try {
        for (const { src, st } of tops) {
          const target = intoDir ? joinVolumePath(dest, basename(resolve(src)) || 'root') : dest;
          await copy(src, target, st);
        }
      } finally {
        progress.done();
      }
      const ms = Date.now() - started;
      const extra = [links ? `${links} symlink${links === 1 ? '' : 's'}` : '', skipped ? `${skipped} skipped` : ''].filter(Boolean);
      await out(
        `put ${files} file${files === 1 ? '' : 's'}, ${dirs} director${dirs === 1 ? 'y' : 'ies'}${extra.length ? ', ' + extra.join(', ') : ''}: ` +
          `${formatBytes(bytes)} in ${formatDuration(ms)} (${formatRate(bytes, ms)}) to ${dest}\n`,
      );
    }, { unwind: true });
  },
};

export default command;
