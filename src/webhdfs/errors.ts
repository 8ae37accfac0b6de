// WebHDFS errors: Hadoop's RemoteException JSON with the Java exception a client re-creates by name
// (WebHdfsFileSystem unwraps it), and the HTTP status Hadoop's ExceptionHandler gives each kind.
import type { ServerResponse } from 'node:http';
import { FsError } from '../errors.js';

/** Java exceptions clients switch on: [fully qualified class, HTTP status]. */
const EXCEPTIONS = {
  FileNotFoundException: ['java.io.FileNotFoundException', 404],
  FileAlreadyExistsException: ['org.apache.hadoop.fs.FileAlreadyExistsException', 403],
  AccessControlException: ['org.apache.hadoop.security.AccessControlException', 403],
  ParentNotDirectoryException: ['org.apache.hadoop.fs.ParentNotDirectoryException', 403],
  PathIsNotEmptyDirectoryException: ['org.apache.hadoop.fs.PathIsNotEmptyDirectoryException', 403],
  DSQuotaExceededException: ['org.apache.hadoop.hdfs.protocol.DSQuotaExceededException', 403],
  PathComponentTooLongException: ['org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException', 403],
  IOException: ['java.io.IOException', 403],
  IllegalArgumentException: ['java.lang.IllegalArgumentException', 400],
  UnsupportedOperationException: ['java.lang.UnsupportedOperationException', 400],
  SecurityException: ['java.lang.SecurityException', 401],
  RuntimeException: ['java.lang.RuntimeException', 500],
} as const;

export type ExceptionName = keyof typeof EXCEPTIONS;

export class HdfsError extends Error {
  constructor(readonly exception: ExceptionName, message: string) {
    super(message);
    this.name = 'HdfsError';
  }

  get status(): number {
    return EXCEPTIONS[this.exception][1];
  }

  json(): string {
    return JSON.stringify({ RemoteException: { exception: this.exception, javaClassName: EXCEPTIONS[this.exception][0], message: this.message } });
  }
}

export function hdfsErr(exception: ExceptionName, message: string): HdfsError {
  return new HdfsError(exception, message);
}

/** A bad or missing query parameter: IllegalArgumentException (400), worded as Hadoop words it. */
export function badParam(name: string, value: string | null, why: string): HdfsError {
  return hdfsErr('IllegalArgumentException', `Invalid value for webhdfs parameter "${name}": ${value === null ? 'missing' : `'${value}'`}: ${why}`);
}

/** What an errno from the file system means to an HDFS client, for the path the operation was about. */
export function fromFsError(e: FsError, path: string): HdfsError {
  switch (e.code) {
    case 'ENOENT':
      return hdfsErr('FileNotFoundException', `File does not exist: ${path}`);
    case 'EEXIST':
      return hdfsErr('FileAlreadyExistsException', `${path} already exists`);
    case 'EACCES':
    case 'EPERM':
      return hdfsErr('AccessControlException', `Permission denied: ${path}`);
    case 'ENOTDIR':
      return hdfsErr('ParentNotDirectoryException', `A parent of ${path} is not a directory`);
    case 'ENOTEMPTY':
      return hdfsErr('PathIsNotEmptyDirectoryException', `\`${path} is non empty': Directory is not empty`);
    case 'EISDIR':
      return hdfsErr('FileNotFoundException', `Path is not a file: ${path}`);
    case 'EDQUOT':
    case 'ENOSPC':
      return hdfsErr('DSQuotaExceededException', `The quota of ${path} is exceeded (or the volume is full): ${e.description}`);
    case 'ENAMETOOLONG':
      return hdfsErr('PathComponentTooLongException', `A name in ${path} is too long`);
    case 'EINVAL':
      return hdfsErr('IllegalArgumentException', `${e.description}: ${path}`);
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
    case 'ENOSYS':
      return hdfsErr('UnsupportedOperationException', `${e.description}: ${path}`);
    case 'EROFS':
      // The description names the read-only subtree (ferry readonly), which may be above the path.
      return hdfsErr('AccessControlException', `Read-only file system: ${path}: ${e.description}`);
    case 'ENODATA':
      return hdfsErr('IOException', 'At least one of the attributes provided was not found.');
    default:
      return hdfsErr('IOException', `${e.description}: ${path}`);
  }
}

/** Sends err as Hadoop does: JSON body, its status. */
export function sendError(res: ServerResponse, err: HdfsError): void {
  const body = err.json();
  res.writeHead(err.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
