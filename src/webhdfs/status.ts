// Hadoop's FileStatus JSON for an inode: the fields WebHdfsFileSystem reads (JsonUtilClient.toFileStatus).
import { TYPE_DIRECTORY, TYPE_SYMLINK, type Attr } from '../vfs/view.js';
import type { Identities } from './identity.js';

/** What FerryFS tells Hadoop its block size is: splits of this size (FerryFS's own blocks are not HDFS's). */
export const HDFS_BLOCK_SIZE = 128 << 20;

export interface FileStatus {
  accessTime: number;
  blockSize: number;
  fileId: number;
  group: string;
  length: number;
  modificationTime: number;
  owner: string;
  pathSuffix: string;
  permission: string;
  replication: number;
  storagePolicy: number;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  symlink?: string;
}

export function millis(sec: number, nsec: number): number {
  return sec * 1000 + Math.floor(nsec / 1e6);
}

/** HDFS permissions are rwx bits and the sticky bit, written in octal without a leading zero. */
export function permissionText(mode: number): string {
  return (mode & 0o1777).toString(8);
}

export function fileStatus(ids: Identities, ino: number, a: Attr, pathSuffix: string, symlink?: string): FileStatus {
  const dir = a.type === TYPE_DIRECTORY;
  const s: FileStatus = {
    accessTime: dir ? 0 : millis(a.atime, a.atimensec),
    blockSize: dir ? 0 : HDFS_BLOCK_SIZE,
    fileId: ino,
    group: ids.groupName(a.gid),
    length: dir ? 0 : a.length,
    modificationTime: millis(a.mtime, a.mtimensec),
    owner: ids.userName(a.uid),
    pathSuffix,
    permission: permissionText(a.mode),
    replication: dir ? 0 : 1,
    storagePolicy: 0,
    type: dir ? 'DIRECTORY' : a.type === TYPE_SYMLINK ? 'SYMLINK' : 'FILE',
  };
  if (symlink !== undefined) s.symlink = symlink;
  return s;
}
