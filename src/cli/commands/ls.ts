// ferry ls [-l] [-R] META-URL [PATH]: lists a directory of a volume through the SDK.
import { flag, volumePath, type Command, type Parsed } from '../args.js';
import { lsDate, modeString, out, table } from '../output.js';
import { TYPE_OF_STATS, joinVolumePath, withVolume } from '../volume.js';
import type { Stats, Volume } from '../../sdk/index.js';

async function longRow(vol: Volume, path: string, name: string, st: Stats): Promise<string[]> {
  let shown = name;
  if (st.isSymbolicLink()) shown += ` -> ${await vol.readlink(path)}`;
  return [modeString(TYPE_OF_STATS(st), st.mode), String(st.nlink), String(st.uid), String(st.gid), String(st.size), lsDate(st.mtime), shown];
}

const command: Command = {
  spec: {
    name: 'ls',
    summary: 'List a directory of a volume.',
    usage: 'META-URL [PATH...]',
    description: [
      'Lists the entries of each PATH (default /) in name order, including names starting with a dot.',
      'PATH is a path inside the volume; a file is listed alone. -l shows mode, links, owner, size and',
      'modification time; -R lists subdirectories recursively.',
    ].join('\n'),
    examples: ['ferry ls -l sqlite3://ferry-data/meta.db /src', 'ferry ls -R sqlite3://ferry-data/meta.db'],
    options: {
      long: { type: 'boolean', short: 'l', help: 'long format: mode, links, uid, gid, size, mtime, name' },
      recursive: { type: 'boolean', short: 'R', help: 'list subdirectories recursively' },
    },
    minArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = (raw.length ? raw : ['/']).map(volumePath);
    const long = flag(p, 'long');
    const recursive = flag(p, 'recursive');
    await withVolume(metaUrl, 'ls', async (vol) => {
      const stats: Stats[] = [];
      for (const path of paths) {
        try {
          stats.push(await vol.stat(path));
        } catch (e) {
          // A dangling symlink is still listable.
          if ((e as { code?: string }).code !== 'ENOENT') throw e;
          stats.push(await vol.lstat(path).catch(() => Promise.reject(e)));
        }
      }
      // Like ls: files first, then each directory (with a header when there are several).
      const fileRows: string[][] = [];
      for (let i = 0; i < paths.length; i++) {
        if (stats[i]!.isDirectory()) continue;
        fileRows.push(long ? await longRow(vol, paths[i]!, paths[i]!, await vol.lstat(paths[i]!)) : [paths[i]!]);
      }
      if (fileRows.length) await out(table(fileRows, long ? [1, 4] : []));
      const dirs = paths.filter((_, i) => stats[i]!.isDirectory());
      const listDir = async (dir: string, header: boolean): Promise<void> => {
        const entries = await vol.readdir(dir, { withFileTypes: true });
        if (header) await out(`${dir}:\n`);
        if (long) {
          const rows: string[][] = [];
          for (const e of entries) {
            const full = joinVolumePath(dir, e.name);
            rows.push(await longRow(vol, full, e.name, await vol.lstat(full)));
          }
          await out(table(rows, [1, 4]));
        } else {
          await out(entries.map((e) => `${e.name}\n`).join(''));
        }
        if (!recursive) return;
        for (const e of entries) {
          if (!e.isDirectory()) continue;
          await out('\n');
          await listDir(joinVolumePath(dir, e.name), true);
        }
      };
      for (const [i, dir] of dirs.entries()) {
        if (i > 0 || fileRows.length) await out('\n');
        await listDir(dir, recursive || paths.length > 1);
      }
    });
  },
};

export default command;
