// ferry format META-URL NAME: creates a volume (metadata schema + format record) after checking that its
// object store is usable; refuses an existing volume unless --force, which updates it and keeps its uuid.
import { redactUrl } from '../redact.js';
import { UsageError, flag, parseCount, parseSize, str, type Command, type Parsed } from '../args.js';
import { formatBytes, formatSizeShort, out } from '../output.js';
import { VOLUME_NAME, defaultStorage, missingSqlite, normalizeStorage } from '../meta.js';
import type { ObjectStore } from '../../object/interface.js';
import { CHECKSUMS as HASHES, COMPRESSIONS } from '../../object/transforms/names.js';

const MIN_BLOCK = 64 << 10;
const MAX_BLOCK = 16 << 20;

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
      'service-secret-file': { type: 'string', arg: 'FILE', help: 'write the volume\'s service secret (ferry:// clients, services) to FILE, mode 0600' },
      storage: { type: 'string', arg: 'URL', help: 'object storage URL (default: file://DIR/blocks next to an sqlite3 database)' },
      'block-size': { type: 'string', arg: 'SIZE', help: 'size of the objects a file is stored as, a power of two in 64K..16M (default 4M)' },
      'trash-days': { type: 'string', arg: 'N', help: 'days deleted files stay in the trash, 0 disables it (default 1)' },
      capacity: { type: 'string', arg: 'SIZE', help: 'volume capacity such as 100G, 0 = unlimited (default 0)' },
      inodes: { type: 'string', arg: 'N', help: 'maximum number of files, 0 = unlimited (default 0)' },
      compress: { type: 'string', arg: 'ALGO', help: `block compression: ${COMPRESSIONS.join(', ')} (default none)` },
      hash: { type: 'string', arg: 'ALGO', help: `block checksum verified on every read: ${HASHES.join(', ')} (default crc32c; none is unsafe: a corrupted block is read as wrong data)` },
      'encrypt-key-file': { type: 'string', arg: 'FILE', help: 'encrypt blocks (AES-256-GCM) with a data key wrapped by this key file; with --force on an encrypted volume: rotate to this key' },
      'encrypt-passphrase-env': { type: 'string', arg: 'VAR', help: 'like --encrypt-key-file, with the passphrase in environment variable VAR (scrypt)' },
      shards: { type: 'string', arg: 'N', help: "spread blocks over N prefixes, or N buckets/directories with '%d' in --storage (default 1)" },
      'storage-endpoint': { type: 'string', arg: 'URL', help: 'S3 endpoint (env FERRY_S3_ENDPOINT / AWS_ENDPOINT_URL)' },
      region: { type: 'string', arg: 'NAME', help: 'S3 region (env AWS_REGION; default us-east-1)' },
      'path-style': { type: 'boolean', help: 'S3 path-style requests (the default when an endpoint is given)' },
      'access-key': { type: 'string', arg: 'KEY', help: 'S3 access key, kept in the volume setting (env FERRY_ACCESS_KEY / AWS_ACCESS_KEY_ID, not kept)' },
      'secret-key': { type: 'string', arg: 'KEY', help: 'S3 secret key, kept in the volume setting (env FERRY_SECRET_KEY / AWS_SECRET_ACCESS_KEY, not kept)' },
      acl: { type: 'boolean', help: 'POSIX ACLs (setfacl/getfacl, inherited default ACLs); without it ACL xattrs are refused (EOPNOTSUPP). Cannot be turned off later' },
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
      // Blocks tile the 64 MiB chunks exactly, and caches and stores are tuned for power-of-two objects.
      if ((blockSize & (blockSize - 1)) !== 0) throw new UsageError(`--block-size: '${bs}' is not a power of two (64K, 128K, ..., 16M)`);
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
    const hash = str(p, 'hash')?.toLowerCase();
    if (hash !== undefined && !HASHES.includes(hash)) throw new UsageError(`--hash: '${hash}' is not supported (known: ${HASHES.join(', ')})`);
    const shards = str(p, 'shards') !== undefined ? parseCount('--shards', str(p, 'shards')!, 256) : undefined;
    if (shards === 0) throw new UsageError('--shards: must be 1 or more');
    const keyFile = str(p, 'encrypt-key-file');
    const passEnv = str(p, 'encrypt-passphrase-env');
    if (keyFile !== undefined && passEnv !== undefined) throw new UsageError('give --encrypt-key-file or --encrypt-passphrase-env, not both');
    let secret: { keyFile?: string; passphrase?: string; source?: string } | undefined;
    if (keyFile !== undefined) secret = { keyFile: (await import('node:path')).resolve(keyFile) };
    if (passEnv !== undefined) {
      const pass = process.env[passEnv];
      if (!pass) throw new UsageError(`--encrypt-passphrase-env: environment variable ${passEnv} is not set or empty`);
      secret = { passphrase: pass, source: `$${passEnv}` };
    }
    const accessKey = str(p, 'access-key');
    const secretKey = str(p, 'secret-key');
    if ((accessKey === undefined) !== (secretKey === undefined)) throw new UsageError('give both --access-key and --secret-key, or neither');

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
      const givenStorage = str(p, 'storage');
      let storage = (givenStorage !== undefined ? await normalizeStorage(givenStorage) : undefined) ?? old?.storage.url ?? (await defaultStorage(metaUrl));
      if (!storage) throw new UsageError(`--storage is required for ${meta.engine} metadata (only sqlite3 has a default next to the database)`);
      storage = withS3Settings(storage, str(p, 'storage-endpoint'), str(p, 'region'), flag(p, 'path-style'));
      const transforms = await import('../../object/transforms/index.js');
      let encryption = old?.storage.encryption;
      if (encryption && secret) {
        // Key rotation: unlock with the current secret (env or the record's hint), rewrap for the new one.
        encryption = await transforms.rewrapEncryption(encryption, transforms.resolveSecret(encryption), secret);
      } else if (secret) {
        encryption = (await transforms.newEncryption(secret)).record;
      }
      if (encryption && passEnv !== undefined) encryption.passphraseEnv = passEnv;
      const settings = {
        name,
        storage,
        ...given,
        ...(blockSize !== undefined ? { blockSize } : {}),
        ...(compression !== undefined ? { compression } : {}),
        ...(hash !== undefined ? { checksum: hash } : {}),
        ...(shards !== undefined ? { shards } : {}),
        ...(encryption ? { encryption } : {}),
        ...(accessKey !== undefined ? { accessKey, secretKey } : {}),
        ...(flag(p, 'acl') ? { acl: true } : {}),
      };
      // What --force may change is the metadata layer's decision (meta/format.ts); a refusal depends on the
      // volume, not on the command line alone, so it is an ordinary error (exit 1).
      const { changeFormat, newFormat } = await import('../../meta/format.js');
      const format = old ? changeFormat(old, settings) : newFormat(settings);
      // The store marker (client/marker.ts): the volume's prefix must not be another volume's.
      const marker = await import('../../client/marker.js');
      const { accessKey: ak, secretKey: sk } = format.storage;
      const raw = await transforms.openShardedStore(format.storage, ak !== undefined ? { accessKey: ak, secretKey: sk } : {});
      try {
        // A new bucket or directory is created first: the marker check lists a prefix that must exist.
        // A store that cannot be created is reported by the store check below, with its reason.
        await raw.create().catch(() => undefined);
        await marker.checkFormatTarget(raw, format, { metaUrl, updating: old !== undefined });
        // The check goes through the whole stack (shards, checksum, encryption, compression) before anything is written.
        const { checkVolumeStore } = await import('../../client/store-check.js');
        await checkVolumeStore(format, { metaUrl, encryption: secret });
        await meta.init(format, force);
        await marker.checkMarker(raw, format, { metaUrl, claim: 'always', formatting: true });
      } finally {
        await raw.close().catch(() => undefined);
      }
      const f = await meta.load();
      const secretFile = str(p, 'service-secret-file');
      if (secretFile !== undefined) {
        const { serviceSecretsOf } = await import('../../meta/service-auth.js');
        const { writeSecretFile } = await import('../service-flags.js');
        writeSecretFile(secretFile, (await serviceSecretsOf(meta)).secret);
      }
      const limits = [
        f.capacity ? `capacity ${formatBytes(f.capacity)}` : '',
        f.inodes ? `${f.inodes} inodes` : '',
      ].filter(Boolean);
      await out(
        `${old ? 'updated' : 'formatted'} volume '${f.name}' (uuid ${f.uuid}) at ${redactUrl(meta.url)}: storage ${redactUrl(f.storage.url)}, ` +
          `block size ${formatSizeShort(f.blockSize)}, compression ${f.storage.compression}` +
          (f.storage.checksum !== 'none' ? `, checksum ${f.storage.checksum}` : '') +
          (f.storage.encryption ? ', encryption aes-256-gcm' : '') +
          (f.storage.shards > 1 ? `, ${f.storage.shards} shards` : '') +
          `, trash ${f.trashDays} day${f.trashDays === 1 ? '' : 's'}` +
          (f.acl ? ', POSIX ACLs' : '') +
          (limits.length ? `, ${limits.join(', ')}` : '') +
          '\n',
      );
    } finally {
      await meta.close().catch(() => undefined);
    }
  },
};

/** Endpoint, region and path style of an s3:// URL go into its query, so every client of the volume uses them. */
function withS3Settings(storage: string, endpoint?: string, region?: string, pathStyle?: boolean): string {
  if (endpoint === undefined && region === undefined && !pathStyle) return storage;
  if (!/^s3:/i.test(storage)) throw new UsageError('--storage-endpoint, --region and --path-style apply to s3:// storage only');
  const [base, query = ''] = storage.split(/\?(.*)/s, 2) as [string, string?];
  const q = new URLSearchParams(query);
  if (endpoint !== undefined) q.set('endpoint', endpoint);
  if (region !== undefined) q.set('region', region);
  if (pathStyle) q.set('path-style', 'true');
  return `${base}?${q.toString()}`;
}

export default command;
