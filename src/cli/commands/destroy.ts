// ferry destroy META-URL UUID: deletes every object of the volume, then its metadata. The uuid must match,
// live clients block it (unless --force), and it asks on a terminal (or needs --yes).
import { UsageError, flag, type Command, type Parsed } from '../args.js';
import { Progress, ago, formatBytes, formatDuration, out } from '../output.js';
import { withMeta } from '../meta.js';
import { FsError, isFsError } from '../../errors.js';

const DELETE_CONCURRENCY = 16;

const command: Command = {
  spec: {
    name: 'destroy',
    summary: 'Delete a volume: all its objects and its metadata.',
    usage: 'META-URL UUID',
    description: [
      "Deletes every object under the volume's prefix in its object store, then the volume's metadata.",
      "UUID must be the volume's (see 'ferry status'), so the wrong volume is not destroyed by mistake.",
      'It refuses while clients have live sessions (unless --force), and asks for confirmation on a',
      'terminal; without a terminal (scripts, CI) pass --yes. This cannot be undone.',
    ].join('\n'),
    examples: ['ferry destroy --yes sqlite3://ferry-data/meta.db 5b9a4c8e-7f1d-4c5e-9d61-2f0c3a8b7e10'],
    options: {
      yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation' },
      force: { type: 'boolean', help: 'destroy even while clients have live sessions' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, uuid] = p.args as [string, string];
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
      throw new UsageError(`'${uuid}' is not a uuid (ferry status META-URL shows the volume's)`);
    }
    await withMeta(metaUrl, async (meta, format) => {
      if (uuid !== format.uuid) {
        throw new Error(`uuid '${uuid}' does not match volume '${format.name}' at ${meta.url}; refusing to destroy it`);
      }
      const { SESSION_TIMEOUT_MS } = await import('../../vfs/jobs.js');
      const now = Date.now();
      const live = (await meta.listSessions()).filter((s) => now - s.heartbeat <= SESSION_TIMEOUT_MS);
      if (live.length && !flag(p, 'force')) {
        const who = live
          .slice(0, 3)
          .map((s) => `${s.sid} on ${s.hostname} pid ${s.pid}${s.mountPoint ? ` at ${s.mountPoint}` : ''}, heartbeat ${ago(now - s.heartbeat)}`)
          .join('; ');
        throw new Error(`volume '${format.name}' has ${live.length} live session${live.length === 1 ? '' : 's'} (${who}${live.length > 3 ? '; ...' : ''}); stop those clients or pass --force`);
      }
      if (!flag(p, 'yes')) {
        if (!process.stdin.isTTY) {
          throw new UsageError(`refusing to destroy volume '${format.name}' without confirmation: no terminal to ask on, pass --yes`);
        }
        const { createInterface } = await import('node:readline/promises');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        let answer: string;
        try {
          answer = await rl.question(
            `Destroy volume '${format.name}' (uuid ${format.uuid}): delete all its objects in ${format.storage.url} and its metadata at ${meta.url}? Type the volume name to confirm: `,
          );
        } finally {
          rl.close();
        }
        if (answer.trim() !== format.name) throw new Error('not confirmed; nothing was deleted');
      }

      // A mirror shares its source's objects: only a store of its own (if any) is emptied, never the source's.
      const { mirrorOf } = await import('../../mirror/format.js');
      const mirror = mirrorOf(format);
      // A mirror leaves its source first, or the source would keep its changelog for it for ever.
      if (mirror) {
        const { removeMirror } = await import('../../mirror/setup.js');
        try {
          const r = await removeMirror(metaUrl);
          process.stderr.write(`ferry: mirror ${r.id} unregistered from its source ${r.source}\n`);
        } catch (e) {
          if (!flag(p, 'force')) throw new FsError(isFsError(e) ? e.code : 'EIO', { message: `${(e as Error).message} (--force destroys the mirror anyway)` });
          process.stderr.write(`ferry: ${(e as Error).message}; destroying the mirror anyway (--force)\n`);
        }
      }
      const { openRawVolumeObjects } = await import('../../client/storage.js');
      const { openObjectStore } = await import('../../object/index.js');
      // Opening the volume's store checks its marker: a prefix another volume claimed is never emptied.
      const store = !mirror ? await openRawVolumeObjects(format, { metaUrl }) : mirror.storage ? await openObjectStore(mirror.storage) : undefined;
      const { deleteMarker, markerKey } = await import('../../client/marker.js');
      const progress = new Progress('deleting objects');
      const started = Date.now();
      let count = 0;
      let bytes = 0;
      try {
        const batch: Array<{ key: string; size: number }> = [];
        const flush = async () => {
          let next = 0;
          const worker = async () => {
            while (next < batch.length) {
              const o = batch[next++]!;
              await store!.delete(o.key);
              count++;
              bytes += o.size;
              progress.update(`${count} objects, ${formatBytes(bytes)}`);
            }
          };
          await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, batch.length) }, worker));
          batch.length = 0;
        };
        for await (const o of store?.listAll(`${format.name}/`) ?? []) {
          // The marker goes last, once the metadata is gone: until then the prefix stays claimed.
          if (o.isDir || o.key === markerKey(format.name)) continue;
          batch.push({ key: o.key, size: o.size });
          if (batch.length >= 1000) await flush();
        }
        await flush();
        await meta.destroy();
        if (store) await deleteMarker(store, format.name);
      } finally {
        progress.done();
        await store?.close().catch(() => undefined);
      }
      await out(
        `destroyed volume '${format.name}' (uuid ${format.uuid}): deleted ${count} object${count === 1 ? '' : 's'} ` +
          `(${formatBytes(bytes)}) in ${formatDuration(Date.now() - started)} and its metadata\n`,
      );
    });
  },
};

export default command;
