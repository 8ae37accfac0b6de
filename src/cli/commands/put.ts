// ferry put META-URL LOCAL... DEST: copies local files and directory trees into a volume (like cp -r),
// streaming each file with backpressure so nothing is held in memory whole.
import { volumePath, type Command, type Parsed } from '../args.js';
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
      'Prints the number of files, bytes and speed; shows progress when stderr is a terminal.',
    ].join('\n'),
    examples: ['ferry put sqlite3://ferry-data/meta.db ./src /src', 'ferry put sqlite3://ferry-data/meta.db model.bin config.json /models/'],
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
    const { createReadStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    // Local mistakes are found before the volume is opened.
    const tops: Array<{ src: string; st: import('node:fs').Stats }> = [];
    for (const s of sources) tops.push({ src: s, st: await fs.stat(s) });

    await withVolume(metaUrl, 'put', async (vol: Volume) => {
      const progress = new Progress('put');
      const started = Date.now();
      let files = 0;
      let dirs = 0;
      let links = 0;
      let skipped = 0;
      let bytes = 0;
      const show = () => progress.update(`${files} files, ${dirs} dirs, ${formatBytes(bytes)} (${formatRate(bytes, Date.now() - started)})`);

      const putFile = async (local: string, target: string, mode: number) => {
        const fh = await vol.open(target, 'w', mode & 0o7777);
        let copied = false;
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
            fh.createWriteStream(),
          );
          copied = true;
        } finally {
          // A copy that failed half-way (a full volume: ENOSPC) leaves no partial file behind: the error says
          // which file was not copied, and the volume keeps no bytes of it (its blocks are freed before exit,
          // not left queued for the next client).
          if (copied) await fh.close();
          else {
            await fh.close().catch(() => undefined);
            await vol.rm(target, { force: true }).catch(() => undefined);
            await vol.settle().catch(() => undefined);
          }
        }
        files++;
        show();
      };

      const copy = async (local: string, target: string, st: import('node:fs').Stats): Promise<void> => {
        if (st.isDirectory()) {
          await vol.mkdir(target, { recursive: true, mode: st.mode & 0o7777 });
          dirs++;
          const names = (await fs.readdir(local)).sort();
          for (const name of names) {
            const child = join(local, name);
            await copy(child, joinVolumePath(target, name), await fs.lstat(child));
          }
        } else if (st.isFile()) {
          await putFile(local, target, st.mode);
        } else if (st.isSymbolicLink()) {
          const linkTarget = await fs.readlink(local);
          await vol.rm(target, { force: true });
          await vol.symlink(linkTarget, target);
          links++;
        } else {
          skipped++;
          progress.done();
          process.stderr.write(`ferry: skipping ${local}: not a regular file, directory or symlink\n`);
        }
      };

      const existing = await statOrNone(vol, dest);
      const intoDir = sources.length > 1 || destRaw.endsWith('/') || existing?.isDirectory() === true;
      if (intoDir && existing && !existing.isDirectory()) throw new Error(`destination '${dest}' is not a directory`);
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
    });
  },
};

export default command;
