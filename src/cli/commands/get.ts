// ferry get META-URL PATH LOCAL: copies a file or a directory tree of a volume to the local disk, streamed.
import { flag, volumePath, type Command, type Parsed } from '../args.js';
import { Progress, formatBytes, formatDuration, formatRate, out } from '../output.js';
import { baseName, joinVolumePath, withVolume } from '../volume.js';
import type { Stats, Volume } from '../../sdk/index.js';

const command: Command = {
  spec: {
    name: 'get',
    summary: 'Copy a file or directory of a volume to the local disk.',
    usage: 'META-URL PATH LOCAL',
    description: [
      'Copies PATH (a file or, recursively, a directory inside the volume) to LOCAL, like `cp -r`: when',
      'LOCAL is an existing directory, PATH is copied into it under its own name; otherwise it is copied as',
      'LOCAL. Existing local files are overwritten. Permission bits are kept; symlinks are copied as symlinks.',
      'With -p, modification and access times and the exact modes (no umask) are kept too, like `cp -p`.',
      'Prints the number of files, bytes and speed; shows progress when stderr is a terminal.',
    ].join('\n'),
    examples: ['ferry get sqlite3://ferry-data/meta.db /src ./src-copy', 'ferry get -p sqlite3://ferry-data/meta.db /models/model.bin .'],
    options: {
      preserve: { type: 'boolean', short: 'p', help: 'keep modification and access times and exact modes (like cp -p)' },
    },
    minArgs: 3,
    maxArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, rawPath, localRaw] = p.args as [string, string, string];
    const src = volumePath(rawPath);
    const fs = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { createWriteStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    const preserve = flag(p, 'preserve');

    await withVolume(metaUrl, 'get', async (vol: Volume) => {
      const progress = new Progress('get');
      const started = Date.now();
      let files = 0;
      let dirs = 0;
      let links = 0;
      let bytes = 0;
      const show = () => progress.update(`${files} files, ${dirs} dirs, ${formatBytes(bytes)} (${formatRate(bytes, Date.now() - started)})`);

      /** Keeps times (and the exact mode, which the umask trimmed at create) with -p. */
      const keep = async (local: string, st: Stats) => {
        if (!preserve) return;
        await fs.chmod(local, st.mode & 0o7777);
        await fs.utimes(local, st.atimeMs / 1000, st.mtimeMs / 1000);
      };

      const getFile = async (path: string, local: string, mode: number) => {
        const fh = await vol.open(path, 'r');
        try {
          await pipeline(
            fh.createReadStream(),
            async function* (source: AsyncIterable<Buffer>) {
              for await (const chunk of source) {
                bytes += chunk.length;
                show();
                yield chunk;
              }
            },
            createWriteStream(local, { mode: mode & 0o7777 }),
          );
        } finally {
          await fh.close();
        }
        files++;
        show();
      };

      const copy = async (path: string, local: string, st: Stats): Promise<void> => {
        if (st.isDirectory()) {
          // Created writable for its owner so its entries can be added; its own mode is set after them.
          await fs.mkdir(local, { recursive: true, mode: (st.mode & 0o7777) | 0o700 });
          dirs++;
          for (const e of await vol.readdir(path, { withFileTypes: true })) {
            const child = joinVolumePath(path, e.name);
            await copy(child, join(local, e.name), await vol.lstat(child));
          }
          if (preserve) await keep(local, st);
          else if ((st.mode & 0o700) !== 0o700) await fs.chmod(local, (await fs.stat(local)).mode & 0o7777 & ~(0o700 & ~st.mode));
        } else if (st.isFile()) {
          await getFile(path, local, st.mode);
          await keep(local, st);
        } else if (st.isSymbolicLink()) {
          const target = await vol.readlink(path);
          await fs.rm(local, { force: true });
          await fs.symlink(target, local);
          if (preserve) await fs.lutimes(local, st.atimeMs / 1000, st.mtimeMs / 1000);
          links++;
        } else {
          progress.done();
          process.stderr.write(`ferry: skipping ${path} in the volume: not a regular file, directory or symlink\n`);
        }
      };

      const st = await vol.stat(src);
      let local = localRaw;
      const localSt = await fs.stat(localRaw).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (localSt?.isDirectory() && src !== '/') local = join(localRaw, baseName(src));
      try {
        await copy(src, local, st);
      } finally {
        progress.done();
      }
      const ms = Date.now() - started;
      await out(
        `got ${files} file${files === 1 ? '' : 's'}, ${dirs} director${dirs === 1 ? 'y' : 'ies'}${links ? `, ${links} symlink${links === 1 ? '' : 's'}` : ''}: ` +
          `${formatBytes(bytes)} in ${formatDuration(ms)} (${formatRate(bytes, ms)}) to ${local}\n`,
      );
    });
  },
};

export default command;
