// The one place that builds, reads and changes a volume's format record: newFormat() with the defaults,
// readFormat() on every load (refuses a newer record, upgrades an older one, validates), and
// changeFormat()/checkFormatChange() deciding what may change after format, whichever door asks.
import { FsError } from '../errors.js';
import { randomUUID } from 'node:crypto';
import { rotatedSecrets } from './service-auth.js';
import type { EncryptionRecord } from '../object/transforms/index.js';
import { CHECKSUMS, COMPRESSIONS, DEFAULT_CHECKSUM, MAX_SHARDS } from '../object/transforms/names.js';
import type { Format, GatewayKey, MirrorEntry, MirrorOf, DataCopyState } from './types.js';

/**
 * The record's shape this code reads and writes. 1: flat fields (accessKey, shards, mirrorOf, mirrors,
 * mirrorRetention, gatewayKeys, ...); 2: typed sections. Bump it with an upgrade step in readFormat().
 */
export const FORMAT_VERSION = 2;

export const DEFAULT_BLOCK_SIZE = 4 << 20;
export const DEFAULT_TRASH_DAYS = 1;

/** A volume's settings in the flat words `ferry format` and `ferry config` use. */
export interface FormatSettings {
  name: string;
  /** Object store URL. */
  storage: string;
  accessKey?: string;
  secretKey?: string;
  blockSize?: number;
  compression?: string;
  checksum?: string;
  shards?: number;
  encryption?: EncryptionRecord;
  trashDays?: number;
  capacity?: number;
  inodes?: number;
  /** Seconds a lagging mirror holds the source's changelog back (0: for ever). */
  mirrorRetention?: number;
  /** POSIX ACLs (setfacl/getfacl, inherited default ACLs): on may be turned on later, never off. */
  acl?: boolean;
  /** Volume-wide QoS limits every client honours (0 = unlimited): MiB/s uploaded, MiB/s downloaded, metadata ops/s. */
  uploadLimit?: number;
  downloadLimit?: number;
  opsLimit?: number;
}

const MiB = 1 << 20;

/** The format's qos section from the flat limits (MiB/s, ops/s); undefined when all are 0. */
function qosOf(upload: number, download: number, ops: number): Format['qos'] {
  if (!upload && !download && !ops) return undefined;
  return {
    ...(upload ? { uploadBytesPerSec: Math.round(upload * MiB) } : {}),
    ...(download ? { downloadBytesPerSec: Math.round(download * MiB) } : {}),
    ...(ops ? { metaOpsPerSec: ops } : {}),
  };
}

/** A new volume's record: the defaults for what is not given, a fresh uuid. */
export function newFormat(s: FormatSettings): Format {
  const f: Format = {
    name: s.name,
    uuid: randomUUID(),
    metaVersion: FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    blockSize: s.blockSize ?? DEFAULT_BLOCK_SIZE,
    trashDays: s.trashDays ?? DEFAULT_TRASH_DAYS,
    capacity: s.capacity ?? 0,
    inodes: s.inodes ?? 0,
    // New volumes mark inodes that have extended attributes (see FLAG_XATTRS).
    xattrFlags: true,
    storage: {
      url: s.storage,
      shards: s.shards ?? 1,
      compression: s.compression ?? 'none',
      checksum: s.checksum ?? DEFAULT_CHECKSUM,
      ...(s.accessKey !== undefined ? { accessKey: s.accessKey, secretKey: s.secretKey } : {}),
      ...(s.encryption ? { encryption: s.encryption } : {}),
    },
    ...(s.mirrorRetention ? { mirror: { retention: s.mirrorRetention } } : {}),
    ...(s.acl ? { acl: true } : {}),
    // Every volume gets its service secret at format (meta/service-auth.ts).
    services: rotatedSecrets(undefined),
  };
  const qos = qosOf(s.uploadLimit ?? 0, s.downloadLimit ?? 0, s.opsLimit ?? 0);
  if (qos) f.qos = qos;
  return validFormat(f, 'the new format record');
}

/** The record's settings in the flat words of the CLI. */
export function settingsOf(
  f: Format,
): FormatSettings & Required<Pick<FormatSettings, 'blockSize' | 'compression' | 'checksum' | 'shards' | 'trashDays' | 'capacity' | 'inodes' | 'acl' | 'uploadLimit' | 'downloadLimit' | 'opsLimit'>> {
  const { url, accessKey, secretKey, shards, compression, checksum, encryption } = f.storage;
  return {
    name: f.name,
    storage: url,
    blockSize: f.blockSize,
    compression,
    checksum,
    shards,
    trashDays: f.trashDays,
    capacity: f.capacity,
    inodes: f.inodes,
    acl: f.acl === true,
    uploadLimit: (f.qos?.uploadBytesPerSec ?? 0) / MiB,
    downloadLimit: (f.qos?.downloadBytesPerSec ?? 0) / MiB,
    opsLimit: f.qos?.metaOpsPerSec ?? 0,
    ...(f.mirror?.retention !== undefined ? { mirrorRetention: f.mirror.retention } : {}),
    ...(accessKey !== undefined ? { accessKey, secretKey } : {}),
    ...(encryption ? { encryption } : {}),
  };
}

/**
 * What may change after format: where the objects are (the objects are not moved), their keys, the limits,
 * the mirror retention, the QoS limits, the wrapping of the encryption key (rotation), and ACLs turned on (checkFormatChange refuses
 * turning them off: files may carry ACLs that would silently stop applying). The rest shapes every object
 * key or stored byte (name, block size, compression, checksum, shards) or whether blocks are encrypted.
 */
export const MUTABLE_SETTINGS = ['storage', 'accessKey', 'secretKey', 'encryption', 'trashDays', 'capacity', 'inodes', 'mirrorRetention', 'acl', 'uploadLimit', 'downloadLimit', 'opsLimit'] as const;

/** Applies a change of settings (as `ferry config` and `ferry format --force` give them) to a record. */
export function changeFormat(old: Format, change: Partial<FormatSettings>): Format {
  if (change.mirrorRetention !== undefined && old.mirror?.of) {
    throw new FsError('EINVAL', { message: `the mirror retention is a setting of a mirror's source, and volume '${old.name}' is a mirror: set it on the source` });
  }
  const storage = { ...old.storage };
  if (change.storage !== undefined) storage.url = change.storage;
  if (change.accessKey !== undefined) Object.assign(storage, { accessKey: change.accessKey, secretKey: change.secretKey });
  if (change.encryption !== undefined) storage.encryption = change.encryption;
  if (change.compression !== undefined) storage.compression = change.compression;
  if (change.checksum !== undefined) storage.checksum = change.checksum;
  if (change.shards !== undefined) storage.shards = change.shards;
  const next: Format = {
    ...old,
    name: change.name ?? old.name,
    blockSize: change.blockSize ?? old.blockSize,
    trashDays: change.trashDays ?? old.trashDays,
    capacity: change.capacity ?? old.capacity,
    inodes: change.inodes ?? old.inodes,
    storage,
  };
  if (change.acl !== undefined) next.acl = change.acl;
  if (change.uploadLimit !== undefined || change.downloadLimit !== undefined || change.opsLimit !== undefined) {
    const was = settingsOf(old);
    const qos = qosOf(change.uploadLimit ?? was.uploadLimit, change.downloadLimit ?? was.downloadLimit, change.opsLimit ?? was.opsLimit);
    if (qos) next.qos = qos;
    else delete next.qos;
  }
  if (change.mirrorRetention !== undefined) next.mirror = { ...old.mirror, retention: change.mirrorRetention };
  checkFormatChange(old, next);
  return validFormat(next, `the format record of volume '${old.name}'`);
}

/** How messages name the settings fixed at format. */
const FIXED_NAMES: Partial<Record<keyof FormatSettings, string>> = { blockSize: 'block size', shards: 'shard count' };

/** Refuses a change of what is fixed at format (all but MUTABLE_SETTINGS). Every format change passes here. */
export function checkFormatChange(old: Format, next: Format): void {
  const [was, now] = [settingsOf(old), settingsOf(next)];
  for (const k of Object.keys(was) as Array<keyof FormatSettings>) {
    if ((MUTABLE_SETTINGS as readonly string[]).includes(k) || was[k] === now[k]) continue;
    throw new FsError('EINVAL', {
      message: `cannot change the ${FIXED_NAMES[k] ?? k} of volume '${old.name}' (${String(was[k])}): it is fixed when the volume is formatted`,
    });
  }
  if (old.acl === true && next.acl !== true) {
    // As JuiceFS: ACLs set on files would stop being enforced without a trace.
    throw new FsError('EINVAL', { message: `cannot turn off the ACLs of volume '${old.name}': its files may carry ACLs` });
  }
  if (!!next.storage.encryption !== !!old.storage.encryption) {
    throw new FsError('EINVAL', {
      message: old.storage.encryption
        ? `cannot remove the encryption of volume '${old.name}' (its blocks are encrypted)`
        : `cannot encrypt the existing volume '${old.name}' (its blocks are not encrypted)`,
    });
  }
}

/**
 * A stored record as this code uses it: refused when written by a newer FerryFS, upgraded when older,
 * then validated. `where` names the volume's metadata in messages.
 */
export function readFormat(raw: unknown, where: string): Format {
  const what = `the format record at ${where}`;
  if (!isObject(raw)) throw bad(what, 'it is not an object');
  const version = raw.metaVersion ?? 1;
  if (!Number.isInteger(version) || (version as number) < 1) throw bad(what, `metaVersion ${JSON.stringify(version)} is not a version`);
  if ((version as number) > FORMAT_VERSION) {
    throw new FsError('ENOTSUP', {
      message: `the volume at ${where} has metadata version ${String(version)}, written by a newer FerryFS; this FerryFS reads versions up to ${FORMAT_VERSION}: upgrade it`,
    });
  }
  const f = version === 1 ? upgradeV1(raw) : raw;
  return validFormat(f as unknown as Format, what);
}

/** Version 1 kept every setting flat in the record; version 2 groups them in sections. */
export function upgradeV1(r: Record<string, unknown>): Format {
  const {
    storage, accessKey, secretKey, shards, compression, checksum, encryption,
    mirrorOf, mirrors, mirrorRetention, dataCopy, gatewayKeys, xattrFlags, metaVersion: _v, ...rest
  } = r;
  const f = {
    ...rest,
    metaVersion: FORMAT_VERSION,
    // Volumes formatted before xattrFlags existed have inodes with attributes but without the mark.
    xattrFlags: xattrFlags === true,
    storage: {
      url: storage,
      shards: shards ?? 1,
      compression: compression ?? 'none',
      checksum: checksum ?? 'none',
      ...(accessKey !== undefined ? { accessKey, secretKey } : {}),
      ...(encryption !== undefined ? { encryption } : {}),
    },
  } as unknown as Format;
  if (mirrorOf !== undefined || mirrors !== undefined || mirrorRetention !== undefined) {
    f.mirror = {
      ...(mirrorOf !== undefined ? { of: mirrorOf as MirrorOf } : {}),
      ...(mirrors !== undefined ? { mirrors: mirrors as Record<string, MirrorEntry> } : {}),
      ...(mirrorRetention !== undefined ? { retention: Number(mirrorRetention) } : {}),
    };
  }
  if (dataCopy !== undefined) f.dataCopy = dataCopy as DataCopyState;
  if (gatewayKeys !== undefined) f.gateway = { keys: gatewayKeys as Record<string, GatewayKey> };
  return f;
}

// ---- validation ----

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(what: string, why: string): FsError {
  return new FsError('EINVAL', { message: `${what} is invalid: ${why}` });
}

/** Checks the record's shape; the first problem is one error naming the field. */
export function validFormat(f: Format, what: string): Format {
  const problem = problemOf(f as unknown as Obj);
  if (problem) throw bad(what, problem);
  return f;
}

const nonEmpty = (v: unknown) => typeof v === 'string' && v !== '';
const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const optional = (check: (v: unknown) => boolean) => (v: unknown) => v === undefined || check(v);

function problemOf(f: Obj): string | undefined {
  const fields: Array<[string, unknown, (v: unknown) => boolean, string]> = [
    ['metaVersion', f.metaVersion, (v) => v === FORMAT_VERSION, `${FORMAT_VERSION}`],
    ['name', f.name, nonEmpty, 'a name'],
    ['uuid', f.uuid, nonEmpty, 'a uuid'],
    ['createdAt', f.createdAt, (v) => typeof v === 'string', 'a date'],
    ['blockSize', f.blockSize, (v) => count(v) && (v as number) > 0, 'a size in bytes'],
    ['trashDays', f.trashDays, count, 'a number of days'],
    ['capacity', f.capacity, count, 'a number of bytes'],
    ['inodes', f.inodes, count, 'a number of inodes'],
    ['xattrFlags', f.xattrFlags, (v) => typeof v === 'boolean', 'true or false'],
    ['acl', f.acl, optional((v) => typeof v === 'boolean'), 'true or false'],
    ['storage', f.storage, isObject, 'a section'],
  ];
  const s = isObject(f.storage) ? f.storage : {};
  fields.push(
    ['storage.url', s.url, nonEmpty, 'an object store URL'],
    ['storage.shards', s.shards, (v) => count(v) && (v as number) >= 1 && (v as number) <= MAX_SHARDS, `1..${MAX_SHARDS}`],
    ['storage.compression', s.compression, (v) => typeof v === 'string' && COMPRESSIONS.includes(v), COMPRESSIONS.join(', ')],
    ['storage.checksum', s.checksum, (v) => typeof v === 'string' && CHECKSUMS.includes(v), CHECKSUMS.join(', ')],
    ['storage.accessKey', s.accessKey, optional((v) => typeof v === 'string'), 'a string'],
    ['storage.secretKey', s.secretKey, optional((v) => typeof v === 'string'), 'a string'],
    ['storage.encryption', s.encryption, optional((v) => isObject(v) && nonEmpty(v.wrappedKey) && nonEmpty(v.kdf)), 'an encryption record'],
    ['mirror', f.mirror, optional(isObject), 'a section'],
    ['dataCopy', f.dataCopy, optional((v) => isObject(v) && count(v.snapshotVersion)), 'a data copy state'],
    ['gateway', f.gateway, optional((v) => isObject(v) && isObject(v.keys)), 'a section with keys'],
    ['trash', f.trash, optional(isObject), 'a section'],
    ['quotas', f.quotas, optional(isObject), 'a section'],
    ['ttl', f.ttl, optional((v) => Array.isArray(v) && v.every((r) => isObject(r) && count(r.inode) && nonEmpty(r.path) && count(r.days) && (r.days as number) >= 1)), 'a list of rules {inode, path, days}'],
    [
      'readOnly',
      f.readOnly,
      optional((v) => Array.isArray(v) && v.every((m) => isObject(m) && count(m.ino) && (m.ino as number) > 0 && typeof m.path === 'string' && (m.owner === undefined || typeof m.owner === 'string'))),
      'a list of {ino, path, owner?}',
    ],
    ['qos', f.qos, optional(isObject), 'a section'],
    ['qos.uploadBytesPerSec', isObject(f.qos) ? f.qos.uploadBytesPerSec : undefined, optional(count), 'bytes per second'],
    ['qos.downloadBytesPerSec', isObject(f.qos) ? f.qos.downloadBytesPerSec : undefined, optional(count), 'bytes per second'],
    ['qos.metaOpsPerSec', isObject(f.qos) ? f.qos.metaOpsPerSec : undefined, optional(count), 'operations per second'],
    ['services', f.services, optional((v) => isObject(v) && typeof v.secret === 'string' && (v.previous === undefined || (isObject(v.previous) && typeof v.previous.secret === 'string' && typeof v.previous.until === 'string'))), 'a section with secret'],
  );
  const m = isObject(f.mirror) ? f.mirror : {};
  const of = m.of;
  fields.push(
    ['mirror.of', of, optional((v) => isObject(v) && nonEmpty(v.source) && nonEmpty(v.id) && typeof v.writable === 'boolean' && count(v.snapshotVersion)), 'a mirror origin'],
    ['mirror.mirrors', m.mirrors, optional((v) => isObject(v) && Object.values(v).every((e) => isObject(e) && count(e.applied))), 'mirrors by id'],
    ['mirror.retention', m.retention, optional(count), 'a number of seconds'],
    ['mirror.replicator', m.replicator, optional((v) => isObject(v) && count(v.sid) && (v.sid as number) > 0), 'a replicator lease'],
  );
  if (isObject(f.gateway) && isObject(f.gateway.keys)) {
    for (const [id, k] of Object.entries(f.gateway.keys)) {
      // A blank secret is a key whose secret a dump left out (dump-format.ts): the gateway refuses it.
      fields.push([`gateway.keys.${id}`, k, (v) => isObject(v) && typeof v.secret === 'string' && count(v.uid) && count(v.gid) && (v.scope === undefined || isObject(v.scope)), 'a key with secret, uid and gid (and a scope object)']);
    }
  }
  if (isObject(f.quotas)) {
    for (const [ino, q] of Object.entries(f.quotas)) {
      fields.push([`quotas.${ino}`, q, (v) => /^[1-9]\d*$/.test(ino) && isObject(v) && typeof v.path === 'string' && count(v.space) && count(v.inodes), 'a directory inode with path, space and inodes']);
    }
  }
  for (const [name, value, ok, expected] of fields) {
    if (!ok(value)) return `${name} is ${value === undefined ? 'missing' : JSON.stringify(value)?.slice(0, 60)}, expected ${expected}`;
  }
  return undefined;
}
