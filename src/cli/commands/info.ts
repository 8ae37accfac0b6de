// ferry info META-URL [PATH]: the volume, or one path with its attributes, chunks, slices and object keys.
import { redactText } from '../redact.js';
import { volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, formatSizeShort, formatTimeNs, modeString, octalMode, out } from '../output.js';
import { TYPE_NAMES, withMeta } from '../meta.js';

const command: Command = {
  spec: {
    name: 'info',
    summary: 'Show a volume, or a file or directory with its chunks, slices and object keys.',
    usage: 'META-URL [PATH]',
    description: [
      'Without PATH: the volume (name, uuid, storage, block size, compression, checksum, encryption, shards,',
      'limits, usage, version).',
      'With PATH (inside the volume, e.g. /data/a.bin): inode, type, size, mode, owner, links and times;',
      'for a file every chunk (64 MiB of the file) with its slices and the object keys of their blocks;',
      'for a directory its number of entries; for a symlink its target.',
    ].join('\n'),
    examples: ['ferry info sqlite3://ferry-data/meta.db', 'ferry info sqlite3://ferry-data/meta.db /src/cli/main.ts'],
    minArgs: 1,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, rawPath] = p.args as [string, string | undefined];
    await withMeta(metaUrl, async (meta, format) => {
      const { ROOT_INODE, CHUNK_SIZE, rootContext, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK } = await import('../../meta/types.js');
      const ctx = rootContext();
      if (rawPath === undefined) {
        const [st, version, sessions] = await Promise.all([meta.statfs(ctx), meta.currentVersion(), meta.listSessions()]);
        const rows: Array<[string, string]> = [
          ['volume', format.name],
          ['uuid', format.uuid],
          ['metadata', `${redactText(meta.url)} (${meta.engine})`],
          ['storage', format.storage.url],
          ['block size', formatSizeShort(format.blockSize)],
          ['compression', format.storage.compression],
          ['checksum', format.storage.checksum],
          ['encryption', encryptionOf(format.storage.encryption)],
          ['shards', String(format.storage.shards)],
          ['trash days', String(format.trashDays)],
          ['capacity', format.capacity ? formatBytes(format.capacity) : 'unlimited'],
          ['inode limit', format.inodes ? String(format.inodes) : 'unlimited'],
          ['ACLs', format.acl ? 'on' : 'off'],
          ...qosRow(format.qos),
          ['created', format.createdAt],
          ['used space', `${formatBytes(st.usedSpace)} (${st.usedSpace} bytes)`],
          ['used inodes', String(st.usedInodes)],
          ['version', String(version)],
          ['sessions', String(sessions.length)],
        ];
        await out(rows.map(([k, v]) => `${(k + ':').padEnd(13)}${v}\n`).join(''));
        return;
      }
      const path = volumePath(rawPath);
      const { FsError } = await import('../../errors.js');
      let node;
      try {
        node = await meta.resolve(ctx, ROOT_INODE, path);
      } catch (e) {
        throw e instanceof FsError ? e.withContext('stat', path) : e;
      }
      const a = node.attr;
      const type = TYPE_NAMES[a.type] ?? String(a.type);
      const lines = [
        `${path}`,
        `  inode: ${node.inode}`,
        `  type: ${type}`,
        `  size: ${a.length}${a.length >= 1024 ? ` (${formatBytes(a.length)})` : ''}`,
        `  mode: ${octalMode(a.mode)} (${modeString(type, a.mode)})`,
        `  owner: uid ${a.uid}, gid ${a.gid}`,
        `  nlink: ${a.nlink}`,
        `  parent: ${a.parent}`,
        `  atime: ${formatTimeNs(a.atime, a.atimensec)}`,
        `  mtime: ${formatTimeNs(a.mtime, a.mtimensec)}`,
        `  ctime: ${formatTimeNs(a.ctime, a.ctimensec)}`,
      ];
      if (a.type === TYPE_SYMLINK) lines.push(`  target: ${await meta.readlink(ctx, node.inode)}`);
      if (a.type === TYPE_DIRECTORY) lines.push(`  entries: ${(await meta.readdir(ctx, node.inode)).length}`);
      await out(lines.join('\n') + '\n');
      if (a.type !== TYPE_FILE) return;
      const { sliceBlocks } = await import('../../chunk/keys.js');
      const chunks = Math.ceil(a.length / CHUNK_SIZE);
      let slices = 0;
      let objects = 0;
      const body: string[] = [];
      for (let indx = 0; indx < chunks; indx++) {
        const list = await meta.readChunk(ctx, node.inode, indx);
        body.push(`  chunk ${indx} (file offset ${indx * CHUNK_SIZE}): ${list.length} slice${list.length === 1 ? '' : 's'}`);
        for (const s of list) {
          slices++;
          if (s.id === 0) {
            body.push(`    hole pos=${s.pos} len=${s.len}`);
            continue;
          }
          body.push(`    slice id=${s.id} pos=${s.pos} size=${s.size} off=${s.off} len=${s.len}`);
          // Only the blocks this piece of the slice covers are read; list them all, marking the used ones.
          const first = Math.floor(s.off / format.blockSize);
          const last = s.len > 0 ? Math.floor((s.off + s.len - 1) / format.blockSize) : first - 1;
          for (const b of sliceBlocks(format.name, s.id, s.size, format.blockSize)) {
            objects++;
            const used = b.index >= first && b.index <= last;
            body.push(`      object ${b.key} (${formatBytes(b.length)})${used ? '' : ' [not visible]'}`);
          }
        }
        if (body.length >= 2000) {
          await out(body.join('\n') + '\n');
          body.length = 0;
        }
      }
      body.push(`  chunks: ${chunks}, slices: ${slices}, objects: ${objects}`);
      await out(body.join('\n') + '\n');
    });
  },
};

/** `aes-256-gcm, key file /etc/ferry.key` / `aes-256-gcm, passphrase in $VAR` / `none` (never the key). */
function encryptionOf(e: { algorithm: string; keyFile?: string; passphraseEnv?: string; kdf: string } | undefined): string {
  if (!e) return 'none';
  const secret = e.keyFile ? `key file ${e.keyFile}` : e.passphraseEnv ? `passphrase in $${e.passphraseEnv}` : e.kdf === 'scrypt' ? 'passphrase' : 'key file';
  return `${e.algorithm}, ${secret}`;
}

export default command;

/** The volume's QoS limits (`ferry config --upload-limit ...`), a row only when there are any. */
function qosRow(q: { uploadBytesPerSec?: number; downloadBytesPerSec?: number; metaOpsPerSec?: number } | undefined): Array<[string, string]> {
  const parts = [
    q?.uploadBytesPerSec ? `upload ${q.uploadBytesPerSec / 2 ** 20} MiB/s` : '',
    q?.downloadBytesPerSec ? `download ${q.downloadBytesPerSec / 2 ** 20} MiB/s` : '',
    q?.metaOpsPerSec ? `${q.metaOpsPerSec} metadata ops/s` : '',
  ].filter(Boolean);
  return parts.length ? [['QoS', `${parts.join(', ')} per client`]] : [];
}
