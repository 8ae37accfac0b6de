// Database servers the engine tests and the engines benchmark use. Each is checked with a real connection
// first: when it cannot be reached, a test file registers one failing test whose message says exactly what
// to start (in CI, CI=true, it fails the same way: a server missing there is a setup bug, never a skip).
// Override a URL with FERRY_TEST_POSTGRES / FERRY_TEST_MYSQL / FERRY_TEST_REDIS / FERRY_TEST_ETCD.
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openMeta } from '../../src/meta/index.js';
import type { Meta } from '../../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../../src/meta/types.js';
import { checkChurn, checkInvariants, churn } from '../suites/meta-invariants.js';
import { freshMeta } from '../suites/meta-suite.js';

export type ServerKind = 'postgres' | 'mysql' | 'redis' | 'etcd';

interface ServerSpec {
  title: string;
  env: string;
  url: string;
  start: string;
}

export const SERVERS: Record<ServerKind, ServerSpec> = {
  postgres: {
    title: 'PostgreSQL',
    env: 'FERRY_TEST_POSTGRES',
    url: 'postgres://postgres@127.0.0.1:5432/test',
    start:
      "run 'bash .ci/setup.d/20-postgres.sh' as root (installs and starts PostgreSQL with trust auth on 127.0.0.1 and database 'test'), " +
      "or start your own and set FERRY_TEST_POSTGRES=postgres://USER@HOST:5432/DB",
  },
  mysql: {
    title: 'MariaDB/MySQL',
    env: 'FERRY_TEST_MYSQL',
    url: 'mysql://root@127.0.0.1:3306/test',
    start:
      "run 'bash .ci/setup.d/21-mariadb.sh' as root (installs and starts MariaDB, root without password, database 'test'), " +
      'or start your own and set FERRY_TEST_MYSQL=mysql://USER@HOST:3306/DB',
  },
  redis: {
    title: 'Redis',
    env: 'FERRY_TEST_REDIS',
    url: 'redis://127.0.0.1:6379/0',
    start: "start it with 'redis-server --daemonize yes' (Debian package redis-server), or set FERRY_TEST_REDIS=redis://HOST:6379/DB",
  },
  etcd: {
    title: 'etcd',
    env: 'FERRY_TEST_ETCD',
    url: 'etcd://127.0.0.1:2379',
    start:
      "run 'bash .ci/setup.d/23-etcd.sh' as root (installs Debian's etcd-server and starts one member on 127.0.0.1:2379), " +
      'or start your own and set FERRY_TEST_ETCD=etcd://HOST:2379',
  },
};

export function serverUrl(kind: ServerKind): string {
  return process.env[SERVERS[kind].env] || SERVERS[kind].url;
}

/** Connects once and runs a trivial query; resolves to undefined when the server works, else the reason. */
export async function probeServer(kind: ServerKind, url = serverUrl(kind)): Promise<string | undefined> {
  const u = new URL(url);
  try {
    if (kind === 'postgres') {
      const { default: pg } = await import('pg');
      const c = new pg.Client({
        host: u.hostname,
        port: Number(u.port || 5432),
        user: decodeURIComponent(u.username) || undefined,
        password: decodeURIComponent(u.password) || undefined,
        database: decodeURIComponent(u.pathname.slice(1)),
        connectionTimeoutMillis: 3000,
      });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
      } finally {
        await c.end().catch(() => undefined);
      }
    } else if (kind === 'mysql') {
      const { default: mysql } = await import('mysql2/promise');
      const c = await mysql.createConnection({
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username) || undefined,
        password: decodeURIComponent(u.password) || undefined,
        database: decodeURIComponent(u.pathname.slice(1)),
        connectTimeout: 3000,
      });
      try {
        await c.query('SELECT 1');
      } finally {
        await c.end().catch(() => undefined);
      }
    } else if (kind === 'etcd') {
      const { Etcd3 } = await import('etcd3');
      const hosts = url.replace(/^etcds?:\/\/(?:[^@/]*@)?/, '').replace(/[/?].*$/, '').split(',').map((h) => `http://${h}`);
      const c = new Etcd3({ hosts, dialTimeout: 3000 });
      try {
        await Promise.race([c.get('ferry-probe').string(), new Promise((_, no) => setTimeout(() => no(new Error('no answer in 3 s')), 3000))]);
      } finally {
        c.close();
      }
    } else {
      const { Redis } = await import('ioredis');
      const c = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.ping();
      } finally {
        c.disconnect();
      }
    }
    return undefined;
  } catch (e) {
    const err = e as { code?: string; message?: string; errors?: Array<{ code?: string }> };
    return err.code ?? err.errors?.[0]?.code ?? err.message ?? String(e);
  }
}

/** The one-line message for a server that cannot be used. */
export function missingMessage(kind: ServerKind, url: string, reason: string): string {
  const s = SERVERS[kind];
  const where = url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  return `${s.title} is not usable at ${where} (${reason}): ${s.start}`;
}

/**
 * The URL of a working server, or undefined after registering one failing test that says what to start.
 * Test files: `const url = await requireServer('postgres'); if (url) { ...suites... }`.
 */
export async function requireServer(kind: ServerKind): Promise<string | undefined> {
  const url = serverUrl(kind);
  const reason = await probeServer(kind, url);
  if (reason === undefined) return url;
  const msg = missingMessage(kind, url, reason) + (process.env.CI === 'true' ? ' [CI=true: the CI setup must provide it]' : '');
  it(`${SERVERS[kind].title} server is reachable`, () => {
    throw new Error(msg);
  });
  return undefined;
}

/** A table prefix unique to this process and call: volumes of parallel runs never meet. */
export function uniquePrefix(tag = 'ft'): string {
  return `${tag}${process.pid.toString(36)}${randomBytes(3).toString('hex')}_`;
}

/** URL with ?prefix= (and extra options) set. */
export function withOptions(url: string, opts: Record<string, string | number>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(opts)) u.searchParams.set(k, String(v));
  return u.toString();
}

/** Drops every table whose name starts with `prefix` (tests clean up after their volumes). */
export async function dropPrefixed(kind: 'postgres' | 'mysql', url: string, prefix: string): Promise<number> {
  const u = new URL(url);
  const like = prefix.replace(/_/g, '\\_') + '%';
  if (kind === 'postgres') {
    const { default: pg } = await import('pg');
    const c = new pg.Client({
      host: u.hostname,
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username) || undefined,
      password: decodeURIComponent(u.password) || undefined,
      database: decodeURIComponent(u.pathname.slice(1)),
    });
    await c.connect();
    try {
      const r = await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1`, [like]);
      const names = r.rows.map((x: { tablename: string }) => `"${x.tablename}"`);
      for (let i = 0; i < names.length; i += 50) await c.query(`DROP TABLE IF EXISTS ${names.slice(i, i + 50).join(', ')}`);
      return names.length;
    } finally {
      await c.end();
    }
  }
  const { default: mysql } = await import('mysql2/promise');
  const c = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
    database: decodeURIComponent(u.pathname.slice(1)),
  });
  try {
    const [rows] = await c.query(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?`, [like]);
    const names = (rows as Array<{ t: string }>).map((x) => `\`${x.t}\``);
    for (let i = 0; i < names.length; i += 50) await c.query(`DROP TABLE IF EXISTS ${names.slice(i, i + 50).join(', ')}`);
    return names.length;
  } finally {
    await c.end();
  }
}

/**
 * The multi-client stress for a server engine: `clients` Meta instances (each its own pool) run the churn
 * workload in one directory at once; then exact names, one winner per race, a version and changelog record
 * per write, and every namespace invariant must hold.
 */
export function multiClientStress(name: string, newUrl: () => Promise<string>, clients = 3, steps = 150): void {
  describe(`multi-client stress: ${name}`, () => {
    it(`${clients} clients with separate pools hammer one directory`, async () => {
      const url = await newUrl();
      const m = await freshMeta(url);
      const others: Meta[] = [];
      try {
        const inodeBase = (await m.statfs(rootContext())).usedInodes - 1;
        const dir = (await m.mkdir(rootContext(), ROOT_INODE, 'work', 0o777)).inode;
        for (let i = 1; i < clients; i++) {
          const o = await openMeta(withOptions(url, { pool: 4 }));
          await o.newSession({ mountPoint: `/client${i}` });
          others.push(o);
        }
        const all = [m, ...others];
        const results = await Promise.all(all.map((c, i) => churn(c, dir, `c${i}`, steps)));
        await checkChurn(m, dir, results, steps);
        await checkInvariants(m, { inodeBase, probe: results.flatMap((r) => r.inodes) });
      } finally {
        for (const o of others) await o.close();
        await m.close();
      }
    });
  });
}
