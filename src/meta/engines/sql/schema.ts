// One schema description for every SQL dialect; each dialect maps the column kinds to its types.

/** int: 64-bit integer; name: a file name (<= 255 bytes, compared bytewise); text: unbounded text; blob: bytes. */
export type ColumnKind = 'int' | 'name' | 'text' | 'blob';

export interface TableDef {
  name: string;
  columns: Array<[string, ColumnKind]>;
  primaryKey: string[];
  indexes?: string[][];
}

export const TABLES: TableDef[] = [
  { name: 'setting', columns: [['name', 'name'], ['value', 'text']], primaryKey: ['name'] },
  { name: 'counter', columns: [['name', 'name'], ['value', 'int']], primaryKey: ['name'] },
  {
    name: 'node',
    columns: [
      ['inode', 'int'], ['type', 'int'], ['flags', 'int'], ['mode', 'int'], ['uid', 'int'], ['gid', 'int'],
      ['atime', 'int'], ['atimensec', 'int'], ['mtime', 'int'], ['mtimensec', 'int'], ['ctime', 'int'], ['ctimensec', 'int'],
      ['nlink', 'int'], ['length', 'int'], ['rdev', 'int'], ['parent', 'int'],
    ],
    primaryKey: ['inode'],
  },
  // Keyed by (parent, name): rename is a move of one row whatever the subtree size.
  { name: 'edge', columns: [['parent', 'int'], ['name', 'name'], ['inode', 'int'], ['type', 'int']], primaryKey: ['parent', 'name'] },
  { name: 'link_parent', columns: [['inode', 'int'], ['parent', 'int'], ['cnt', 'int']], primaryKey: ['inode', 'parent'] },
  { name: 'symlink', columns: [['inode', 'int'], ['target', 'text']], primaryKey: ['inode'] },
  { name: 'xattr', columns: [['inode', 'int'], ['name', 'name'], ['value', 'blob']], primaryKey: ['inode', 'name'] },
  {
    name: 'chunk',
    columns: [['inode', 'int'], ['indx', 'int'], ['slices', 'blob'], ['cnt', 'int']],
    primaryKey: ['inode', 'indx'],
    indexes: [['cnt']],
  },
  { name: 'slice_ref', columns: [['id', 'int'], ['size', 'int'], ['refs', 'int']], primaryKey: ['id'] },
  { name: 'session', columns: [['sid', 'int'], ['heartbeat', 'int'], ['info', 'text']], primaryKey: ['sid'] },
  // A row per (session, open file): looked up by inode where a file's last link goes.
  { name: 'sustained', columns: [['sid', 'int'], ['inode', 'int']], primaryKey: ['sid', 'inode'], indexes: [['inode']] },
  { name: 'delfile', columns: [['inode', 'int'], ['length', 'int'], ['added', 'int']], primaryKey: ['inode'] },
  { name: 'delslice', columns: [['id', 'int'], ['size', 'int'], ['added', 'int']], primaryKey: ['id'] },
  { name: 'flock', columns: [['inode', 'int'], ['sid', 'int'], ['owner', 'name'], ['ltype', 'int']], primaryKey: ['inode', 'sid', 'owner'] },
  { name: 'plock', columns: [['inode', 'int'], ['sid', 'int'], ['owner', 'name'], ['records', 'blob']], primaryKey: ['inode', 'sid', 'owner'] },
  // The TTL index: a row per (rule directory, file), read oldest mtime first by the expiry job. Created by
  // `ferry ttl set` on volumes formatted before it existed (createSchema only adds what is missing).
  {
    name: 'ttl',
    columns: [['rule', 'int'], ['inode', 'int'], ['mtime', 'int'], ['parent', 'int'], ['name', 'name']],
    primaryKey: ['rule', 'inode'],
    indexes: [['rule', 'mtime', 'inode']],
  },
  // Ids of write transactions a networked engine (PostgreSQL, MySQL) committed lately, written inside the
  // transaction: after a COMMIT whose reply was lost, a row here says it applied (pooled.ts). Rows older than
  // ten minutes are deleted by the writers now and then.
  { name: 'txdone', columns: [['id', 'name'], ['at', 'int']], primaryKey: ['id'] },
  { name: 'changelog', columns: [['version', 'int'], ['ts', 'int'], ['op', 'name'], ['record', 'text']], primaryKey: ['version'] },
];

export const ATTR_COLUMNS = [
  'type', 'flags', 'mode', 'uid', 'gid', 'atime', 'atimensec', 'mtime', 'mtimensec',
  'ctime', 'ctimensec', 'nlink', 'length', 'rdev', 'parent',
] as const;
