// Which operation serves a request: the op parameter (any case) under its HTTP method, as Hadoop's
// GetOpParam/PutOpParam/PostOpParam/DeleteOpParam list them. Ops Hadoop has and FerryFS does not serve are
// refused by name (UnsupportedOperationException) rather than as unknown.
import type { Call } from './call.js';
import { hdfsErr } from './errors.js';
import { append, concat, create, getFileChecksum, open, truncate } from './ops/data.js';
import { createSymlink, del, mkdirs, rename, setOwner, setPermission, setReplication, setTimes } from './ops/namespace.js';
import {
  checkAccess,
  getAclStatus,
  getContentSummary,
  getQuotaUsage,
  getFileBlockLocations,
  getFileLinkStatus,
  getFileStatus,
  getHomeDirectory,
  getLinkTarget,
  getServerDefaults,
  getStatus,
  getStoragePolicies,
  getStoragePolicy,
  getTrashRoot,
  listStatus,
  listStatusBatch,
} from './ops/read.js';
import { getXattrs, listXattrs, removeXattr, setXattr } from './ops/xattrs.js';

type Op = (c: Call) => Promise<void>;

export const ROUTES: Record<string, Record<string, Op>> = {
  GET: {
    OPEN: open,
    GETFILESTATUS: getFileStatus,
    GETFILELINKSTATUS: getFileLinkStatus,
    GETLINKTARGET: getLinkTarget,
    LISTSTATUS: listStatus,
    LISTSTATUS_BATCH: listStatusBatch,
    GETCONTENTSUMMARY: getContentSummary,
    GETQUOTAUSAGE: getQuotaUsage,
    GETFILECHECKSUM: getFileChecksum,
    GETHOMEDIRECTORY: getHomeDirectory,
    GETTRASHROOT: getTrashRoot,
    GETXATTRS: getXattrs,
    LISTXATTRS: listXattrs,
    GETACLSTATUS: getAclStatus,
    CHECKACCESS: checkAccess,
    GETSERVERDEFAULTS: getServerDefaults,
    GETSTORAGEPOLICY: getStoragePolicy,
    GETALLSTORAGEPOLICY: getStoragePolicies,
    GETSTORAGEPOLICIES: getStoragePolicies,
    GETFILEBLOCKLOCATIONS: getFileBlockLocations,
    GETSTATUS: getStatus,
  },
  PUT: {
    CREATE: create,
    MKDIRS: mkdirs,
    CREATESYMLINK: createSymlink,
    RENAME: rename,
    SETREPLICATION: setReplication,
    SETOWNER: setOwner,
    SETPERMISSION: setPermission,
    SETTIMES: setTimes,
    SETXATTR: setXattr,
    REMOVEXATTR: removeXattr,
  },
  POST: { APPEND: append, CONCAT: concat, TRUNCATE: truncate },
  DELETE: { DELETE: del },
};

/** Hadoop 3 ops not served, with why (docs/webhdfs.md has the same table). */
export const UNSUPPORTED: Record<string, string> = {
  GETDELEGATIONTOKEN: 'delegation tokens need Kerberos, which this server does not speak',
  RENEWDELEGATIONTOKEN: 'delegation tokens need Kerberos, which this server does not speak',
  CANCELDELEGATIONTOKEN: 'delegation tokens need Kerberos, which this server does not speak',
  GET_BLOCK_LOCATIONS: 'HDFS-internal (LocatedBlocks); clients use GETFILEBLOCKLOCATIONS',
  SETQUOTA: 'directory quotas are set with ferry quota (GETQUOTAUSAGE and GETCONTENTSUMMARY show them)',
  SETQUOTABYSTORAGETYPE: 'there are no storage types',
  MODIFYACLENTRIES: 'ACLs are POSIX ACLs set through the SDK or a mount (GETACLSTATUS reads them)',
  REMOVEACLENTRIES: 'ACLs are POSIX ACLs set through the SDK or a mount (GETACLSTATUS reads them)',
  REMOVEDEFAULTACL: 'ACLs are POSIX ACLs set through the SDK or a mount (GETACLSTATUS reads them)',
  REMOVEACL: 'ACLs are POSIX ACLs set through the SDK or a mount (GETACLSTATUS reads them)',
  SETACL: 'ACLs are POSIX ACLs set through the SDK or a mount (GETACLSTATUS reads them)',
  ALLOWSNAPSHOT: 'no snapshots (ferry clone makes metadata-only copies)',
  DISALLOWSNAPSHOT: 'no snapshots (ferry clone makes metadata-only copies)',
  CREATESNAPSHOT: 'no snapshots (ferry clone makes metadata-only copies)',
  RENAMESNAPSHOT: 'no snapshots',
  DELETESNAPSHOT: 'no snapshots',
  GETSNAPSHOTDIFF: 'no snapshots',
  GETSNAPSHOTDIFFLISTING: 'no snapshots',
  GETSNAPSHOTTABLEDIRECTORYLIST: 'no snapshots',
  GETSNAPSHOTLIST: 'no snapshots',
  SETSTORAGEPOLICY: 'one storage policy (HOT): the object store keeps every block',
  UNSETSTORAGEPOLICY: 'one storage policy (HOT): the object store keeps every block',
  SATISFYSTORAGEPOLICY: 'one storage policy (HOT): the object store keeps every block',
  ENABLEECPOLICY: 'no erasure coding policies: the object store keeps the data safe',
  DISABLEECPOLICY: 'no erasure coding policies: the object store keeps the data safe',
  SETECPOLICY: 'no erasure coding policies: the object store keeps the data safe',
  UNSETECPOLICY: 'no erasure coding policies: the object store keeps the data safe',
  GETECPOLICY: 'no erasure coding policies: the object store keeps the data safe',
  GETECPOLICIES: 'no erasure coding policies: the object store keeps the data safe',
  GETECCODECS: 'no erasure coding policies: the object store keeps the data safe',
  GETTRASHROOTS: 'HDFS encryption-zone trash roots; FerryFS keeps one trash (ferry trash)',
};

const CLASS: Record<string, string> = { GET: 'GetOpParam', PUT: 'PutOpParam', POST: 'PostOpParam', DELETE: 'DeleteOpParam' };

/** The operation for method and op, or the error Hadoop gives (400). */
export function routeOf(method: string, op: string): Op {
  const f = ROUTES[method]?.[op];
  if (f) return f;
  if (UNSUPPORTED[op]) throw hdfsErr('UnsupportedOperationException', `op=${op} is not supported by FerryFS: ${UNSUPPORTED[op]}`);
  if (!ROUTES[method]) throw hdfsErr('IllegalArgumentException', `HTTP method ${method} is not used by WebHDFS (GET, PUT, POST, DELETE)`);
  throw hdfsErr('IllegalArgumentException', `Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.${CLASS[method]}.Op.${op}`);
}
