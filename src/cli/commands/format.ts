// ferry format META-URL NAME: creates a volume (metadata schema + format record) after checking that its
// object store is usable; refuses an existing volume unless --force, which updates it and keeps its uuid.
import { UsageError, flag, parseCount, parseSize, str, type Command, type Parsed } from '../args.js';
import { formatBytes, formatSizeShort, out } from '../output.js';
import { VOLUME_NAME, checkStorage, defaultStorage, missingSqlite, normalizeStorage } from '../meta.js';

const MIN_BLOCK = 64 << 10;
const MAX_BLOCK = 16 << 20;
/** Compression codecs the data path implements today. */
const COMPRESSIONS = ['none'];

const command: Command = {
  spec: {
    name: 'format',
    summary: 'Create a volume: its metadata and its object store.',
    usage: 'META-URL NAME',
    description: [
      'Creates the metadata schema and the format record at META-URL and checks that the object store is',
      'usable (writes, reads and deletes a test object). The object store defaults to a "blocks" directory',
      'next to an SQLite database. NAME is 3 to 63 lowercase letters, digits and dashes; it prefixes every',
      'object key. An existing volume is refused unless --force, which updates the given settings and keeps',
      "the volume's uuid (its name, block size and compression cannot change).",
    ].join('\n'),
    examples: [
      'ferry format sqlite3://ferry-data/meta.db demo',
      'ferry format --storage file:///srv/ferry --block-size 1M --trash-days 0 sqlite3:///var/lib/ferry/meta.db data',
    ],
    options: {
      storage: { type: 'string', arg: 'URL', help: 'object storage URL (default: file://DIR/blocks next to an sqlite3 database)' },
      'block-size': { type: 'string', arg: 'SIZE', help: 'size of the objects a file is stored as, 64K..16M (default 4M)' },
      'trash-days': { type: 'string', arg: 'N', help: 'days deleted files stay in the trash, 0 disables it (default 1)' },
      capacity: { type: 'string', arg: 'SIZE', help: 'volume capacity such as 100G, 0 = unlimited (default 0)' },
      inodes: { type: 'string', arg: 'N', help: 'maximum number of files, 0 = unlimited (default 0)' },
      compress: { type: 'string', arg: 'ALGO', help: `block compression: ${COMPRESSIONS.join(', ')} (default none)` },
      force: { type: 'boolean', help: 'update an existing volume instead of refusing (keeps its uuid)' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, name] = p.args as [string, string];
    if (!VOLUME_NAME.test(name)) {
      throw new UsageError(`invalid volume name '${name}': use 3 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit`);
    }
    let blockSize: number | undefined;
    const bs = str(p, 'block-size');
    if (bs !== undefined) {
      blockSize = parseSize('--block-size', bs);
      if (blockSize < MIN_BLOCK || blockSize > MAX_BLOCK) throw new UsageError(`--block-size: '${bs}' is outside 64K..16M`);
    }
    const given = {
      trashDays: str(p, 'trash-days') !== undefined ? parseCount('--trash-days', str(p, 'trash-days')!, 36500) : undefined,
      capacity: str(p, 'capacity') !== undefined ? parseSize('--capacity', str(p, 'capacity')!) : undefined,
      inodes: str(p, 'inodes') !== undefined ? parseCount('--inodes', str(p, 'inodes')!) : undefined,
    };
    const compression = str(p, 'compress')?.toLowerCase();
    if (compression !== undefined && !COMPRESSIONS.includes(compression)) {
      throw new UsageError(`--compress: '${compression}' is not supported (known: ${COMPRESSIONS.join(', ')})`);
    }
    const force = flag(p, 'force');
    if (str(p, 'storage') === '') throw new UsageError('--storage: empty URL');

    const { openMeta } = await import('../../meta/index.js');
    const { FsError } = await import('../../errors.js');
    const meta = await openMeta(metaUrl);
    try {
      let old;
      if ((await missingSqlite(metaUrl)) === undefined) {
        try {
          old = await meta.load();
        } catch (e) {
          if (!(e instanceof FsError && e.code === 'ENOENT')) throw e;
        }
      }
      if (old && !force) {
        throw new FsError('EEXIST', {
          message: `volume '${old.name}' is already formatted at ${meta.url} (uuid ${old.uuid}); use --force to update it`,
        });
      }
      if (old) {
        const keep = (what: string, was: unknown, now: unknown) => {
          if (now !== undefined && now !== was) throw new UsageError(`cannot change the ${what} of volume '${old!.name}' (${String(was)}) with --force`);
        };
        keep('name', old.name, name);
        keep('block size', old.blockSize, blockSize);
        keep('compression', old.compression, compression);
      }
      const givenStorage = str(p, 'storage');
      const storage = (givenStorage !== undefined ? await normalizeStorage(givenStorage) : undefined) ?? old?.storage ?? (await defaultStorage(metaUrl));
      if (!storage) throw new UsageError(`--storage is required for ${meta.engine} metadata (only sqlite3 has a default next to the database)`);
      const { randomUUID } = await import('node:crypto');
      const format = {
        name,
        uuid: old?.uuid ?? randomUUID(),
        storage,
        blockSize: blockSize ?? old?.blockSize ?? 4 << 20,
        compression: compression ?? old?.compression ?? 'none',
        trashDays: given.trashDays ?? old?.trashDays ?? 1,
        capacity: given.capacity ?? old?.capacity ?? 0,
        inodes: given.inodes ?? old?.inodes ?? 0,
        metaVersion: old?.metaVersion ?? 1,
        createdAt: old?.createdAt ?? new Date().toISOString(),
      };
      await checkStorage(storage, name);
      await meta.init(format, force);
      const f = await meta.load();
      const limits = [
        f.capacity ? `capacity ${formatBytes(f.capacity)}` : '',
        f.inodes ? `${f.inodes} inodes` : '',
      ].filter(Boolean);
      await out(
        `${old ? 'updated' : 'formatted'} volume '${f.name}' (uuid ${f.uuid}) at ${meta.url}: storage ${f.storage}, ` +
          `block size ${formatSizeShort(f.blockSize)}, compression ${f.compression}, trash ${f.trashDays} day${f.trashDays === 1 ? '' : 's'}` +
          (limits.length ? `, ${limits.join(', ')}` : '') +
          '\n',
      );
    } finally {
      await meta.close().catch(() => undefined);
    }
  },
};

export default command;
