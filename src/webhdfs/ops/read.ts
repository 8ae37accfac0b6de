// Operations that read the namespace: statuses, listings, summaries and the server's fixed answers.
import { Access, TYPE_DIRECTORY, TYPE_SYMLINK, isDirectory, type Resolved } from '../../vfs/view.js';
import { ACL_ACCESS, decodeAcl, aclText } from '../../meta/acl.js';
import { isFsError } from '../../errors.js';
import type { QuotaInfo } from '../../meta/types.js';
import { intParam, sendJson, type Call } from '../call.js';
import { badParam, hdfsErr } from '../errors.js';

import { fileStatus, HDFS_BLOCK_SIZE, permissionText, type FileStatus } from '../status.js';

/** Entries per LISTSTATUS_BATCH answer (HDFS's dfs.ls.limit). */
export const BATCH = 1000;

async function statusOf(c: Call, r: Resolved, suffix: string): Promise<FileStatus> {
  const target = r.attr.type === TYPE_SYMLINK ? await c.view.readlink(r.inode) : undefined;
  return fileStatus(c.ids, r.inode, r.attr, suffix, target);
}

export async function getFileStatus(c: Call): Promise<void> {
  // HDFS's getFileInfo follows a final symlink; GETFILELINKSTATUS answers the link itself.
  const r = await c.view.resolve(c.path, true);
  sendJson(c.res, { FileStatus: await statusOf(c, r, '') });
}

export async function getFileLinkStatus(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, false);
  sendJson(c.res, { FileStatus: await statusOf(c, r, '') });
}

export async function getLinkTarget(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, false);
  if (r.attr.type !== TYPE_SYMLINK) throw hdfsErr('IOException', `Path ${c.path} is not a symbolic link`);
  sendJson(c.res, { Path: await c.view.readlink(r.inode) });
}

/** GETSTATUS: the capacity, used and remaining bytes of the volume (or of the directory quota over the path). */
export async function getStatus(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  const s = await c.view.statfs(r.inode);
  sendJson(c.res, { FsStatus: { capacity: s.totalSpace, used: s.usedSpace, remaining: s.availSpace } });
}

async function pageOf(c: Call, dir: number, after: string | undefined, limit: number): Promise<FileStatus[]> {
  const list = await c.view.readdir(dir, true, after, limit);
  const out: FileStatus[] = [];
  for (const e of list) out.push(await statusOf(c, e, e.name));
  return out;
}

export async function listStatus(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  if (!isDirectory(r.attr)) return sendJson(c.res, { FileStatuses: { FileStatus: [await statusOf(c, r, '')] } });
  await c.view.access(r.inode, Access.LIST);
  // A big directory goes out page by page as it is read: never one array of every status.
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  c.res.write('{"FileStatuses":{"FileStatus":[');
  let first = true;
  for (let after: string | undefined; ; ) {
    const page = await pageOf(c, r.inode, after, 4096);
    // One write per page: a write per entry costs more than building the statuses.
    const text = page.map((s) => JSON.stringify(s)).join(',');
    if (text && !c.res.write((first ? '' : ',') + text)) await new Promise((res) => c.res.once('drain', res));
    if (text) first = false;
    if (page.length < 4096) break;
    after = page[page.length - 1]!.pathSuffix;
  }
  c.res.end(']}}');
}

export async function listStatusBatch(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  const startAfter = c.query.get('startAfter') || undefined;
  if (!isDirectory(r.attr)) {
    const list = startAfter ? [] : [await statusOf(c, r, '')];
    return sendJson(c.res, { DirectoryListing: { partialListing: { FileStatuses: { FileStatus: list } }, remainingEntries: 0 } });
  }
  await c.view.access(r.inode, Access.LIST);
  // One more than a page tells whether more follow; the count of the rest is not read (see docs/webhdfs.md).
  const page = await pageOf(c, r.inode, startAfter, BATCH + 1);
  const more = page.length > BATCH;
  sendJson(c.res, { DirectoryListing: { partialListing: { FileStatuses: { FileStatus: page.slice(0, BATCH) } }, remainingEntries: more ? 1 : 0 } });
}

/** The files, directories and bytes under a path (a walk, as HDFS's own answer is). */
async function summaryOf(c: Call, r: Resolved): Promise<{ directoryCount: number; fileCount: number; length: number }> {
  const sum = { directoryCount: 0, fileCount: 0, length: 0 };
  const walk = async (ino: number): Promise<void> => {
    sum.directoryCount++;
    await c.view.access(ino, Access.LIST);
    for await (const e of c.view.entries(ino, true)) {
      if (e.attr.type === TYPE_DIRECTORY) await walk(e.inode);
      else {
        sum.fileCount++;
        if (e.attr.type !== TYPE_SYMLINK) sum.length += e.attr.length;
      }
    }
  };
  if (isDirectory(r.attr)) await walk(r.inode);
  else {
    sum.fileCount = 1;
    sum.length = r.attr.length;
  }
  return sum;
}

/** The FerryFS directory quota set on this very directory (`ferry quota`): HDFS's name and space quotas. */
async function quotaOn(c: Call, ino: number): Promise<QuotaInfo | undefined> {
  return (await c.view.vfs.meta.quotaList()).find((q) => q.inode === ino);
}

/** HDFS says -1 for "no quota"; FerryFS says 0. */
const limit = (n: number | undefined) => (n ? n : -1);

export async function getContentSummary(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  const sum = await summaryOf(c, r);
  const q = isDirectory(r.attr) ? await quotaOn(c, r.inode) : undefined;
  sendJson(c.res, { ContentSummary: { ...sum, quota: limit(q?.inodes), spaceConsumed: sum.length, spaceQuota: limit(q?.capacity), typeQuota: {} } });
}

/**
 * GETQUOTAUSAGE: a directory's quota and what counts against it. A quota'd directory answers from the
 * quota's counters, kept in each change's transaction (no walk); any other path is walked.
 */
export async function getQuotaUsage(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  const q = isDirectory(r.attr) ? await quotaOn(c, r.inode) : undefined;
  if (q) {
    return sendJson(c.res, { QuotaUsage: { fileAndDirectoryCount: q.usedInodes, quota: limit(q.inodes), spaceConsumed: q.usedSpace, spaceQuota: limit(q.capacity), typeQuota: {} } });
  }
  const sum = await summaryOf(c, r);
  sendJson(c.res, { QuotaUsage: { fileAndDirectoryCount: sum.directoryCount + sum.fileCount, quota: -1, spaceConsumed: sum.length, spaceQuota: -1, typeQuota: {} } });
}

export async function getHomeDirectory(c: Call): Promise<void> {
  sendJson(c.res, { Path: `/user/${c.user.name}` });
}

export async function getTrashRoot(c: Call): Promise<void> {
  sendJson(c.res, { Path: `/user/${c.user.name}/.Trash` });
}

export async function getServerDefaults(c: Call): Promise<void> {
  sendJson(c.res, {
    FsServerDefaults: {
      blockSize: HDFS_BLOCK_SIZE,
      bytesPerChecksum: 512,
      writePacketSize: 65536,
      replication: 1,
      fileBufferSize: 4096,
      encryptDataTransfer: false,
      // HDFS's fs.trash.interval, in minutes: FerryFS's trash days (deletes through any door are kept).
      trashInterval: (await c.view.vfs.meta.load()).trashDays * 1440,
      checksumType: 'CRC32C',
      keyProviderUri: '',
      defaultStoragePolicyId: HOT.id,
    },
  });
}

/** The one storage policy there is: FerryFS keeps every block in its object store. */
const HOT = { id: 7, name: 'HOT', storageTypes: ['DISK'], creationFallbacks: [], replicationFallbacks: ['ARCHIVE'], copyOnCreateFile: false };

export async function getStoragePolicy(c: Call): Promise<void> {
  await c.view.resolve(c.path, true);
  sendJson(c.res, { BlockStoragePolicy: HOT });
}

export async function getStoragePolicies(c: Call): Promise<void> {
  sendJson(c.res, { BlockStoragePolicies: { BlockStoragePolicy: [HOT] } });
}

/** CHECKACCESS fsaction=rwx: 200 when the user has that access, AccessControlException otherwise. */
export async function checkAccess(c: Call): Promise<void> {
  const action = c.query.get('fsaction') ?? '';
  const m = /^([r-])([w-])([x-])$/.exec(action);
  if (!m) throw badParam('fsaction', action, 'expected rwx, r--, ...');
  const mask = (m[1] === 'r' ? Access.READ : 0) | (m[2] === 'w' ? Access.WRITE : 0) | (m[3] === 'x' ? Access.EXECUTE : 0);
  const r = await c.view.resolve(c.path, true);
  await c.view.access(r.inode, mask);
  sendJson(c.res, {});
}

/** ACL entries as Hadoop writes them (`user:bob:r-x`), from the POSIX ACL a file may carry. */
export async function getAclStatus(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  let entries: string[] = [];
  try {
    const text = aclText(decodeAcl(await c.view.getxattr(r.inode, ACL_ACCESS)));
    // Named entries only: Hadoop's list leaves out what the permission bits already say.
    entries = text
      .split(',')
      .filter((e) => /^[ug]:\d+:/.test(e))
      .map((e) => {
        const [k, id, perm] = e.split(':') as [string, string, string];
        return k === 'u' ? `user:${c.ids.userName(Number(id))}:${perm}` : `group:${c.ids.groupName(Number(id))}:${perm}`;
      });
  } catch (e) {
    if (!isFsError(e, 'ENODATA') && !isFsError(e, 'ENOTSUP')) throw e;
  }
  sendJson(c.res, {
    AclStatus: { entries, owner: c.ids.userName(r.attr.uid), group: c.ids.groupName(r.attr.gid), permission: permissionText(r.attr.mode), stickyBit: (r.attr.mode & 0o1000) !== 0 },
  });
}

/** Block locations: every HDFS-sized block of the file is "here", on this server. */
export async function getFileBlockLocations(c: Call): Promise<void> {
  const r = await c.view.resolve(c.path, true);
  if (isDirectory(r.attr)) throw hdfsErr('FileNotFoundException', `Path is not a file: ${c.path}`);
  const size = r.attr.length;
  const offset = intParam(c.query, 'offset', 0)!;
  const length = intParam(c.query, 'length', size)!;
  const host = new URL(c.origin).host;
  const hostname = new URL(c.origin).hostname;
  const out = [];
  for (let off = Math.floor(offset / HDFS_BLOCK_SIZE) * HDFS_BLOCK_SIZE; off < Math.min(size, offset + length); off += HDFS_BLOCK_SIZE) {
    out.push({
      cachedHosts: [],
      corrupt: false,
      hosts: [hostname],
      length: Math.min(HDFS_BLOCK_SIZE, size - off),
      names: [host],
      offset: off,
      storageTypes: ['DISK'],
      topologyPaths: [`/default-rack/${host}`],
    });
  }
  sendJson(c.res, { BlockLocations: { BlockLocation: out } });
}

