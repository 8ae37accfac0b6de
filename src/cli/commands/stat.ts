// ferry stat META-URL PATH...: the attributes of paths in a volume, like stat(1).
import { volumePath, type Command, type Parsed } from '../args.js';
import { modeString, octalMode, out } from '../output.js';
import { TYPE_OF_STATS, withVolume } from '../volume.js';

const TYPE_WORDS: Record<string, string> = {
  file: 'regular file',
  dir: 'directory',
  symlink: 'symbolic link',
  fifo: 'fifo',
  block: 'block special file',
  char: 'character special file',
  socket: 'socket',
};

function nsTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${frac} UTC`;
}

const command: Command = {
  spec: {
    name: 'stat',
    summary: 'Show the attributes of files in a volume.',
    usage: 'META-URL PATH...',
    description: 'Prints, for each PATH inside the volume (symlinks not followed), its type, size, inode, links, mode, owner and times, like stat(1).',
    examples: ['ferry stat sqlite3://ferry-data/meta.db /src /src/cli/main.ts'],
    options: { json: { type: 'boolean', help: 'print one JSON object per path' } },
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = raw.map(volumePath);
    await withVolume(metaUrl, 'stat', async (vol) => {
      for (const path of paths) {
        const st = await vol.lstat(path);
        const type = TYPE_OF_STATS(st);
        const target = st.isSymbolicLink() ? await vol.readlink(path) : undefined;
        if (p.values.json) {
          const o = {
            path,
            type,
            ino: st.ino,
            size: st.size,
            mode: octalMode(st.mode),
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            atime: st.atime.toISOString(),
            mtime: st.mtime.toISOString(),
            ctime: st.ctime.toISOString(),
            ...(target !== undefined ? { target } : {}),
          };
          await out(JSON.stringify(o) + '\n');
          continue;
        }
        await out(
          [
            `  File: ${path}${target !== undefined ? ` -> ${target}` : ''}`,
            `  Size: ${String(st.size).padEnd(15)} Blocks: ${String(st.blocks).padEnd(10)} IO Block: ${st.blksize}   ${TYPE_WORDS[type]}`,
            `Device: ${st.dev.toString(16)}h  Inode: ${String(st.ino).padEnd(11)} Links: ${st.nlink}`,
            `Access: (${octalMode(st.mode)}/${modeString(type, st.mode)})  Uid: ${st.uid}  Gid: ${st.gid}`,
            `Access: ${nsTime(st.atimeNs)}`,
            `Modify: ${nsTime(st.mtimeNs)}`,
            `Change: ${nsTime(st.ctimeNs)}`,
          ].join('\n') + '\n',
        );
      }
    });
  },
};

export default command;
