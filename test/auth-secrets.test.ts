// Issue 20 item 3: no secret — object store secret key, gateway key secret, service secret, encryption
// passphrase, a password in a metadata URL — in what FerryFS prints or leaves readable: ferry status (tables
// and JSON), info, config, dump without --keep-secrets, error lines, a daemon's /proc/PID/cmdline and its log.
// Files holding secrets and the SQLite database are 0600, data directories 0700.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferry, ok, tempDir, type Run } from './helpers/cli.js';
import { dropPrefixed, missingMessage, probeServer, serverUrl, uniquePrefix, withOptions } from './helpers/servers.js';
import { alive, until } from './helpers/wait.js';

const S3_SECRET = 'S3SECRETVALUE123';
const PASSPHRASE = 'PASSPHRASEVALUE42';
const GW_SECRET = 'GWSECRETVALUE99';
const PG_PASSWORD = 'PGPASSWORDX77';

function noSecrets(what: string, text: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${what} shows a secret (${s.slice(0, 4)}...):\n${text}`);
}

const printed = (r: Run) => r.stdout + r.stderr;

function mode(p: string): number {
  return statSync(p).mode & 0o777;
}


describe('secrets stay secret', () => {
  let dir: string;
  let url: string;
  let secrets: string[];
  const pids: number[] = [];

  before(async () => {
    dir = await tempDir();
    url = `sqlite3://${join(dir, 'data', 'meta.db')}`;
    ok(
      ferry(
        dir,
        ['format', url, 'secvol', '--access-key', 'AKIDTEST', '--secret-key', S3_SECRET, '--encrypt-passphrase-env', 'PASS', '--service-secret-file', join(dir, 'svc.secret')],
        { PASS: PASSPHRASE },
      ),
    );
    ok(ferry(dir, ['gateway', 'keys', 'add', url, '--uid', '0', '--gid', '0', '--secret-key', GW_SECRET]));
    secrets = [S3_SECRET, PASSPHRASE, GW_SECRET, readFileSync(join(dir, 'svc.secret'), 'utf8').trim()];
  });

  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  test('files: the database and the secret file 0600, data directories 0700', () => {
    assert.equal(mode(join(dir, 'data', 'meta.db')).toString(8), '600');
    assert.equal(mode(join(dir, 'svc.secret')).toString(8), '600');
    assert.equal(mode(join(dir, 'data')).toString(8), '700');
    assert.equal(mode(join(dir, 'data', 'blocks')).toString(8), '700');
  });

  test('status, info, config, dump, gateway keys list', () => {
    for (const args of [['status', url], ['status', '--json', url], ['info', url], ['config', url], ['gateway', 'keys', 'list', url], ['dump', url, '-']]) {
      noSecrets(`ferry ${args[0]} ${args[1]}`, printed(ok(ferry(dir, args, { PASS: PASSPHRASE }))), secrets);
    }
    // The same grep finds them where they belong: the check can fail.
    const kept = printed(ok(ferry(dir, ['dump', url, '-', '--keep-secrets'])));
    assert.ok(kept.includes(S3_SECRET) && kept.includes(GW_SECRET) && kept.includes(secrets[3]!), 'dump --keep-secrets keeps them');
  });

  test('error lines never quote a password of a URL', () => {
    const r = ferry(dir, ['ls', `postgres://ferry:${PG_PASSWORD}@127.0.0.1:1/nowhere`, '/']);
    assert.notEqual(r.code, 0);
    noSecrets('an error line', printed(r), [PG_PASSWORD]);
    assert.match(r.stderr, /postgres/);
  });

  test('a daemon: /proc/PID/cmdline and its log', async (t) => {
    // With a password in its metadata URL when PostgreSQL is there (trust auth takes any password).
    const why = await probeServer('postgres');
    if (why && process.env.CI === 'true') assert.fail(missingMessage('postgres', serverUrl('postgres'), why));
    let metaUrl = url;
    let extra: string[] = [];
    let prefix: string | undefined;
    if (why) t.diagnostic(`no PostgreSQL (${why}): the daemon runs on SQLite, without a URL password`);
    else {
      prefix = uniquePrefix('auth');
      const u = new URL(withOptions(serverUrl('postgres'), { prefix }));
      u.password = PG_PASSWORD;
      metaUrl = u.toString();
      ok(ferry(dir, ['format', metaUrl, 'pgvol', '--storage', `file://${join(dir, 'pgblocks')}`]));
      extra = [PG_PASSWORD];
    }
    try {
      const log = join(dir, 'meta.log');
      const r = ok(ferry(dir, ['meta-server', '-d', '--log', log, metaUrl, '--listen', '127.0.0.1:0']));
      noSecrets('meta-server -d', printed(r), [...secrets, ...extra]);
      const pid = Number(/pid (\d+)/.exec(r.stderr)![1]);
      pids.push(pid);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      assert.match(cmdline, /meta-server/);
      noSecrets(`/proc/${pid}/cmdline`, cmdline, [...secrets, ...extra]);
      noSecrets('the daemon log', readFileSync(log, 'utf8'), [...secrets, ...extra]);
      if (extra.length) {
        // The command line shows where the password was, and the status of that volume does not print it.
        assert.match(cmdline, /postgres:\*\*\*@/);
        noSecrets('ferry status (postgres)', printed(ok(ferry(dir, ['status', metaUrl]))), extra);
      }
      process.kill(pid, 'SIGTERM');
      await until(() => !alive(pid), 'the meta-server to stop', 30_000, 50);
    } finally {
      if (prefix) await dropPrefixed('postgres', serverUrl('postgres'), prefix);
    }
  });
});
