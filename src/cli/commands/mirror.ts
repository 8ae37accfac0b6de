// ferry mirror create|run|status: mirror file systems — a volume's metadata kept in step in another region.
import { UsageError, flag, type Command, type Parsed } from '../args.js';
import { out } from '../output.js';

const command: Command = {
  spec: {
    name: 'mirror',
    summary: 'Create, run (replicate) and inspect mirrors of a volume in other regions.',
    usage: 'create SOURCE-META-URL MIRROR-META-URL | run MIRROR-META-URL | status MIRROR-META-URL',
    description: [
      'A mirror is a second metadata engine, near the GPUs, kept in step with the source volume\'s engine;',
      'both share the object store (put a cache group in the mirror region). The engines may differ.',
      '',
      '  create   registers the mirror in the source (its changelog is then kept until the mirror has it)',
      '           and copies a consistent snapshot of the source namespace into MIRROR-META-URL.',
      '  run      the replicator: tails the source changelog and applies each record in order, storing',
      '           the applied version in the same transaction (restart-safe). Runs until interrupted.',
      '  status   applied version, source version, lag in records and seconds, the replicator\'s heartbeat.',
      '',
      'Open the mirror URL like any volume (ferry ls, the SDK, ferry mount): reads stay in the mirror;',
      'writes go to the source unless the mirror was created --read-only, and a client always reads its own',
      'writes.',
    ].join('\n'),
    examples: [
      'ferry mirror create postgres://ferry@beijing-db:5432/vol sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror run sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror status sqlite3:///var/lib/ferry/mirror.db',
    ],
    options: {
      'read-only': { type: 'boolean', help: 'create: clients of the mirror may not write (EROFS)' },
      force: { type: 'boolean', help: 'create: replace an existing volume at MIRROR-META-URL (re-snapshot)' },
      listen: { type: 'string', arg: 'HOST:PORT', help: 'run: address of the wait endpoint clients use (default 127.0.0.1:0)' },
      json: { type: 'boolean', help: 'status: print one JSON document' },
    },
    minArgs: 2,
    maxArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const [action, ...rest] = p.args;
    if (action === 'create') {
      if (rest.length !== 2) throw new UsageError('mirror create needs SOURCE-META-URL and MIRROR-META-URL');
      const { createMirror } = await import('../../mirror/setup.js');
      const r = await createMirror(rest[0]!, rest[1]!, { writable: !flag(p, 'read-only'), force: flag(p, 'force') });
      await out(`mirror ${r.id} created at version ${r.version}; start replicating with: ferry mirror run ${rest[1]}\n`);
      return;
    }
    if (rest.length !== 1) throw new UsageError(`mirror ${action ?? ''} needs MIRROR-META-URL`);
    if (action === 'run') return runReplicator(rest[0]!, p.values.listen as string | undefined);
    if (action === 'status') return status(rest[0]!, flag(p, 'json'));
    throw new UsageError(`unknown mirror action '${action}' (create, run or status)`);
  },
};

async function openPair(mirrorUrl: string) {
  const { openMeta } = await import('../../meta/index.js');
  const { mirrorOf } = await import('../../mirror/format.js');
  const { FsError } = await import('../../errors.js');
  const mirror = await openMeta(mirrorUrl);
  const info = mirrorOf(await mirror.load().catch(async (e) => {
    await mirror.close();
    throw e;
  }));
  if (!info) {
    await mirror.close();
    throw new FsError('EINVAL', { message: `${mirrorUrl} is not a mirror (create one with 'ferry mirror create')` });
  }
  const source = await openMeta(info.source);
  return { mirror, source, info };
}

async function runReplicator(mirrorUrl: string, listen: string | undefined): Promise<void> {
  const { mirror, source, info } = await openPair(mirrorUrl);
  const { Replicator } = await import('../../mirror/replicator.js');
  const rep = new Replicator(mirror, source, info.id, { listen });
  const addr = await rep.start();
  process.stderr.write(`ferry: replicating mirror ${info.id} from version ${rep.applied}; waits answered at ${addr}\n`);
  const stop = () => void rep.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await rep.done();
  } finally {
    await rep.stop();
    await mirror.close();
    await source.close();
  }
}

async function status(mirrorUrl: string, json: boolean): Promise<void> {
  const { mirror, source, info } = await openPair(mirrorUrl);
  try {
    const { mirrorsOf } = await import('../../mirror/format.js');
    const [applied, sourceVersion, sessions, sourceFormat] = await Promise.all([
      mirror.getCounter('appliedVersion'),
      source.currentVersion(),
      mirror.listSessions(),
      source.load(),
    ]);
    const [next] = await source.readChangelog(applied, 1);
    const lagSeconds = next ? Math.max(0, (Date.now() - next.ts) / 1000) : 0;
    const rep = sessions.find((s) => typeof s.mirrorWait === 'string');
    const doc = {
      id: info.id,
      writable: info.writable,
      source: (await import('../../mirror/format.js')).redactUrl(info.source),
      applied,
      sourceVersion,
      lagRecords: Math.max(0, sourceVersion - applied),
      lagSeconds: Number(lagSeconds.toFixed(3)),
      replicator: rep ? { address: rep.mirrorWait, heartbeatAgeSeconds: (Date.now() - rep.heartbeat) / 1000 } : null,
      registered: mirrorsOf(sourceFormat)[info.id] ?? null,
    };
    if (json) return void (await out(JSON.stringify(doc, null, 2) + '\n'));
    await out(
      [
        `mirror ${doc.id} (${doc.writable ? 'writable' : 'read-only'}) of ${doc.source}`,
        `applied version ${applied}, source version ${sourceVersion}: ${doc.lagRecords} records behind, lag ${doc.lagSeconds} s`,
        rep ? `replicator at ${rep.mirrorWait}, last heartbeat ${doc.replicator!.heartbeatAgeSeconds.toFixed(1)} s ago` : 'replicator: not running',
        doc.registered ? '' : 'warning: the source no longer lists this mirror (its changelog may be trimmed): re-create it',
      ]
        .filter(Boolean)
        .join('\n') + '\n',
    );
  } finally {
    await mirror.close();
    await source.close();
  }
}

export default command;
