// ferry config META-URL [--capacity N] [--inodes N] [--trash-days N] [--storage URL] [--mirror-retention D] [--acl]
// [--access-key K --secret-key S] [--upload-limit MIBPS] [--download-limit MIBPS] [--ops-limit N]: changes the format,
// printing old -> new. Without options it prints the current settings.
import { UsageError, flag, parseWith, parseCount, parseSize, str, type Command, type Parsed } from '../args.js';
import { formatBytes, out } from '../output.js';
import { checkStorage, normalizeStorage, withMeta } from '../meta.js';
import type { FormatSettings } from '../../meta/format.js';

const command: Command = {
  spec: {
    name: 'config',
    summary: 'Change settings of a volume.',
    usage: 'META-URL',
    description: [
      'Updates the format record of a volume and prints each change as old -> new; without options it',
      'prints the current settings. Changing --storage points the volume at another object store: the',
      'objects are NOT copied, so it asks for --yes (and the new store is checked to be usable first).',
    ].join('\n'),
    examples: [
      'ferry config --capacity 100G --trash-days 7 sqlite3://ferry-data/meta.db',
      'ferry config --upload-limit 100 --ops-limit 2000 sqlite3://ferry-data/meta.db   # every client of the volume, within seconds',
      'ferry config --rotate-service-secret --service-secret-file /etc/ferry/vol.secret sqlite3://ferry-data/meta.db',
    ],
    options: {
      capacity: { type: 'string', arg: 'SIZE', help: 'volume capacity such as 100G, 0 = unlimited' },
      inodes: { type: 'string', arg: 'N', help: 'maximum number of files, 0 = unlimited' },
      'trash-days': { type: 'string', arg: 'N', help: 'days deleted files stay in the trash, 0 disables it' },
      storage: { type: 'string', arg: 'URL', help: 'object storage URL (objects are not moved: needs --yes)' },
      'mirror-retention': { type: 'string', arg: 'DURATION', help: 'how long the changelog is kept for a lagging mirror (7d, 12h; 0 = until it applies it)' },
      'access-key': { type: 'string', arg: 'KEY', help: 'S3 access key kept in the volume setting (with --secret-key)' },
      'secret-key': { type: 'string', arg: 'SECRET', help: 'S3 secret key kept in the volume setting (with --access-key)' },
      'upload-limit': { type: 'string', arg: 'MIBPS', help: 'MiB/s each client may upload to the object store, 0 = unlimited (clients pick it up within seconds)' },
      'download-limit': { type: 'string', arg: 'MIBPS', help: 'MiB/s each client may download from the object store, 0 = unlimited' },
      'ops-limit': { type: 'string', arg: 'N', help: 'metadata operations per second each client may make, 0 = unlimited' },
      acl: { type: 'boolean', help: 'turn POSIX ACLs on (they cannot be turned off; mounts see it when they next start)' },
      'rotate-service-secret': { type: 'boolean', help: 'make a new service secret; the old one is still accepted for --service-secret-grace' },
      'service-secret-grace': { type: 'string', arg: 'DURATION', help: 'how long the rotated-out service secret stays valid (default 1h; 0 = refused at once)' },
      'service-secret-file': { type: 'string', arg: 'FILE', help: 'write the (new) service secret to FILE (mode 0600) for clients of ferry:// and the services' },
      yes: { type: 'boolean', short: 'y', help: 'confirm a storage change' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    const { changeFormat, settingsOf } = await import('../../meta/format.js');
    const { formatDuration, parseDuration } = await import('../../meta/retention.js');
    const change: Partial<FormatSettings> = {};
    if (str(p, 'capacity') !== undefined) change.capacity = parseSize('--capacity', str(p, 'capacity')!);
    if (str(p, 'inodes') !== undefined) change.inodes = parseCount('--inodes', str(p, 'inodes')!);
    if (str(p, 'trash-days') !== undefined) change.trashDays = parseCount('--trash-days', str(p, 'trash-days')!, 36500);
    if (str(p, 'mirror-retention') !== undefined) change.mirrorRetention = parseWith(() => parseDuration('--mirror-retention', str(p, 'mirror-retention')!));
    if (flag(p, 'acl')) change.acl = true;
    for (const [opt, key] of [['upload-limit', 'uploadLimit'], ['download-limit', 'downloadLimit'], ['ops-limit', 'opsLimit']] as const) {
      if (str(p, opt) !== undefined) change[key] = parseCount(`--${opt}`, str(p, opt)!);
    }
    if ((str(p, 'access-key') === undefined) !== (str(p, 'secret-key') === undefined)) throw new UsageError('give both --access-key and --secret-key, or neither');
    if (str(p, 'secret-key') === '') throw new UsageError('--secret-key: empty secret');
    if (str(p, 'access-key') !== undefined) Object.assign(change, { accessKey: str(p, 'access-key'), secretKey: str(p, 'secret-key') });
    if (str(p, 'storage') !== undefined) {
      const s = str(p, 'storage')!;
      if (!s) throw new UsageError('--storage: empty URL');
      change.storage = await normalizeStorage(s);
    }
    const rotate = flag(p, 'rotate-service-secret');
    const secretFile = str(p, 'service-secret-file');
    const graceRaw = str(p, 'service-secret-grace');
    if (graceRaw !== undefined && !rotate) throw new UsageError('--service-secret-grace goes with --rotate-service-secret');
    const graceMs = graceRaw === undefined ? undefined : parseWith(() => parseDuration('--service-secret-grace', graceRaw)) * 1000;
    if (rotate || secretFile !== undefined) {
      if (Object.keys(change).length) throw new UsageError('--rotate-service-secret and --service-secret-file go without other settings');
      const { rotatedSecrets, serviceSecretsOf } = await import('../../meta/service-auth.js');
      const { writeSecretFile } = await import('../service-flags.js');
      await withMeta(metaUrl, async (meta, old) => {
        const services = rotate ? (await meta.updateFormat((f) => ({ services: rotatedSecrets(f.services, graceMs) }))).services! : await serviceSecretsOf(meta);
        if (secretFile !== undefined) writeSecretFile(secretFile, services.secret);
        const where = secretFile !== undefined ? `written to ${secretFile}` : 'get it with --service-secret-file FILE';
        if (rotate) {
          const until = services.previous ? `the old one is accepted until ${services.previous.until}` : 'the old one is refused from now on';
          await out(`rotated the service secret of volume '${old.name}' (${where}); ${until}\n`);
        } else await out(`the service secret of volume '${old.name}' is ${where}\n`);
      });
      return;
    }
    await withMeta(metaUrl, async (meta, old) => {
      const before: Partial<Record<string, unknown>> = { uuid: old.uuid, mirrorRetention: 0, ...settingsOf(old) };
      const show = (k: string, v: unknown): string => {
        if (k === 'capacity') return v ? `${formatBytes(Number(v))} (${String(v)} bytes)` : '0 (unlimited)';
        if (k === 'inodes') return v ? String(v) : '0 (unlimited)';
        if (k === 'mirrorRetention') return formatDuration(Number(v ?? 0));
        if (k === 'secretKey') return v ? '***' : '(not set)';
        if (k === 'uploadLimit' || k === 'downloadLimit') return v ? `${String(v)} MiB/s` : '0 (unlimited)';
        if (k === 'opsLimit') return v ? `${String(v)} ops/s` : '0 (unlimited)';
        return String(v);
      };
      if (!Object.keys(change).length) {
        const rows = ['name', 'uuid', 'storage', 'blockSize', 'compression', 'trashDays', 'capacity', 'inodes', 'acl', 'uploadLimit', 'downloadLimit', 'opsLimit'];
        if (Object.keys(old.mirror?.mirrors ?? {}).length) rows.push('mirrorRetention');
        await out(rows.map((k) => `${k}: ${show(k, before[k])}\n`).join(''));
        return;
      }
      const keys = (Object.keys(change) as Array<keyof FormatSettings>).filter((k) => before[k] !== change[k]);
      if (!keys.length) {
        await out(`nothing changed in volume '${old.name}'\n`);
        return;
      }
      const given: Partial<FormatSettings> = Object.fromEntries(keys.map((k) => [k, change[k]]));
      // The keys are one pair in the format record (changeFormat sets both from accessKey).
      if (keys.includes('accessKey') || keys.includes('secretKey')) Object.assign(given, { accessKey: change.accessKey, secretKey: change.secretKey });
      // Whether a setting may change is decided in meta/format.ts (a refusal depends on the volume: exit 1);
      // asked before the storage check and --yes.
      changeFormat(old, given);
      if (given.storage !== undefined) {
        if (!flag(p, 'yes')) {
          throw new UsageError(
            `changing the storage of volume '${old.name}' from ${old.storage.url} to ${given.storage} does not move its objects; pass --yes to do it`,
          );
        }
        await checkStorage(given.storage, old.name);
      }
      const after: Partial<Record<string, unknown>> = { mirrorRetention: 0, ...settingsOf(await meta.updateFormat((f) => changeFormat(f, given))) };
      await out(keys.map((k) => `${k}: ${show(k, before[k])} -> ${show(k, after[k])}\n`).join(''));
    });
  },
};

export default command;
