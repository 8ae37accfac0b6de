// ferry mirror create|run|status|resync|remove: mirror file systems — a volume's metadata kept in step in another
// region, and optionally its data copied into the mirror region's own object store.
import { TLS_FLAGS, tlsOf, warnExposed } from '../service-flags.js';
import { UsageError, flag, parseCount, parseWith, str, type Command, type Parsed } from '../args.js';
import { formatBytes, out } from '../output.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { applyFlags, clientFlags } from '../client-flags.js';

const command: Command = {
  spec: {
    name: 'mirror',
    summary: 'Create, run (replicate) and inspect mirrors of a volume in other regions.',
    usage: 'create SOURCE-META-URL MIRROR-META-URL | run|status|resync|remove MIRROR-META-URL',
    description: [
      'A mirror is a second metadata engine, near the GPUs, kept in step with the source volume\'s engine;',
      'by default both share the object store (put a cache group in the mirror region). The engines may differ.',
      'With --storage the mirror has its own object store: `run --data` copies the source\'s blocks into it',
      'asynchronously, and mirror clients read it first, falling back to the source\'s store for blocks not',
      'copied yet (writes always go to the source\'s store).',
      '',
      '  create   registers the mirror in the source (its changelog is then kept until the mirror has it)',
      '           and copies a consistent snapshot of the source namespace into MIRROR-META-URL.',
      '  run      the replicator: tails the source changelog and applies each record in order, storing',
      '           the applied version in the same transaction (restart-safe). Runs until interrupted.',
      '           With --data it also runs the data copier of an own-store mirror (restart-safe too).',
      '  status   applied version, source version, lag in records and seconds, the replicator\'s heartbeat,',
      '           data copy progress, and whether the mirror needs a re-snapshot.',
      '  resync   re-snapshots a mirror that fell behind the source\'s retention window (or whose changelog',
      '           was trimmed): same id, writability and store. Stop its `run` first, start it again after.',
      '  remove   unregisters the mirror in its source (which then no longer keeps its changelog for it); the',
      '           mirror\'s copy stays until `ferry destroy`, which unregisters a mirror too. Stop its `run` first.',
      '',
      'The source keeps its changelog until every mirror has applied it; with --retention (or',
      '`ferry config SOURCE --mirror-retention`) a mirror lagging longer than that no longer holds it back',
      'and must be resynced.',
      '',
      'Open the mirror URL like any volume (ferry ls, the SDK, ferry mount): reads stay in the mirror;',
      'writes go to the source unless the mirror was created --read-only, and a client always reads its own',
      'writes.',
    ].join('\n'),
    examples: [
      'ferry mirror create postgres://ferry@beijing-db:5432/vol sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror run sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror status sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror create --storage s3://gpu-region-bucket --retention 7d postgres://ferry@beijing-db:5432/vol redis://10.1.0.5/1',
      'ferry mirror run --data --data-threads 16 redis://10.1.0.5/1',
      'ferry mirror resync sqlite3:///var/lib/ferry/mirror.db',
      'ferry mirror remove sqlite3:///var/lib/ferry/mirror.db',
    ],
    options: {
      'read-only': { type: 'boolean', help: 'create: clients of the mirror may not write (EROFS)' },
      force: { type: 'boolean', help: 'create: replace an existing volume at MIRROR-META-URL (re-snapshot)' },
      storage: { type: 'string', arg: 'URL', help: 'create: the mirror\'s own object store (filled by run --data)' },
      retention: { type: 'string', arg: 'DURATION', help: 'create: set the source\'s mirror retention window (7d, 12h; 0 = off)' },
      listen: { type: 'string', arg: 'HOST:PORT', help: 'run: address of the wait endpoint clients use (default 127.0.0.1:0)' },
      ...Object.fromEntries(Object.entries(TLS_FLAGS).map(([k, v]) => [k, { ...v, help: `run: ${v.help}` }])),
      data: { type: 'boolean', help: 'run: also copy new blocks into the mirror\'s own store' },
      'data-threads': { type: 'string', arg: 'N', help: 'run: blocks copied at once with --data (default 8)' },
      json: { type: 'boolean', help: 'status: print one JSON document' },
      ...Object.fromEntries(Object.entries(clientFlags('service')).map(([k, o]) => [k, { ...o, help: `run: ${o.help}` }])),
      background: { ...DAEMON_FLAGS.background!, help: `run: ${DAEMON_FLAGS.background!.help}` },
      log: { ...DAEMON_FLAGS.log!, help: `run: ${DAEMON_FLAGS.log!.help}` },
    },
    minArgs: 2,
    maxArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const [action, ...rest] = p.args;
    if (action === 'create') {
      if (rest.length !== 2) throw new UsageError('mirror create needs SOURCE-META-URL and MIRROR-META-URL');
      const [{ createMirror }, { parseDuration }, { checkStorage, normalizeStorage }] = await Promise.all([
        import('../../mirror/setup.js'),
        import('../../meta/retention.js'),
        import('../meta.js'),
      ]);
      const retention = str(p, 'retention') === undefined ? undefined : parseWith(() => parseDuration('--retention', str(p, 'retention')!));
      let storage = str(p, 'storage');
      if (storage !== undefined) {
        if (!storage) throw new UsageError('--storage: empty URL');
        storage = await normalizeStorage(storage);
        await checkStorage(storage, 'ferry-mirror');
      }
      const r = await createMirror(rest[0]!, rest[1]!, { writable: !flag(p, 'read-only'), force: flag(p, 'force'), storage, retention });
      await out(`mirror ${r.id} created at version ${r.version}; start replicating with: ferry mirror run ${storage ? '--data ' : ''}${rest[1]}\n`);
      return;
    }
    if (rest.length !== 1) throw new UsageError(`mirror ${action ?? ''} needs MIRROR-META-URL`);
    if (action === 'run') {
      const threads = str(p, 'data-threads') === undefined ? undefined : parseCount('--data-threads', str(p, 'data-threads')!, 256);
      if (threads !== undefined && !flag(p, 'data')) throw new UsageError('--data-threads needs --data');
      if (threads === 0) throw new UsageError('--data-threads: at least 1');
      const { metrics } = applyFlags({ metaUrl: rest[0]! }, p, 'service');
      const { redactUrl } = await import('../../mirror/format.js');
      if (await daemonize(p, 'mirror', redactUrl(rest[0]!))) return;
      return runReplicator(rest[0]!, str(p, 'listen'), flag(p, 'data'), threads, p, metrics);
    }
    if (action === 'status') return status(rest[0]!, flag(p, 'json'));
    if (action === 'remove') {
      const { removeMirror } = await import('../../mirror/setup.js');
      const r = await removeMirror(rest[0]!);
      await out(`mirror ${r.id} removed from ${r.source}: its changelog is no longer kept for it; the mirror's copy stays at ${rest[0]} (ferry destroy deletes it)\n`);
      return;
    }
    if (action === 'resync') {
      const { resyncMirror } = await import('../../mirror/setup.js');
      const r = await resyncMirror(rest[0]!);
      await out(`mirror ${r.id} re-snapshotted at version ${r.version}; start replicating again with: ferry mirror run ${rest[0]}\n`);
      return;
    }
    throw new UsageError(`unknown mirror action '${action}' (create, run, status or resync)`);
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

async function runReplicator(mirrorUrl: string, listen: string | undefined, data: boolean, threads: number | undefined, p: Parsed, metrics?: string): Promise<void> {
  const tls = tlsOf(p);
  const { serveMetrics, activeMetrics } = await import('../../object/metrics.js');
  // Metrics first: a busy port fails before anything starts.
  const endpoint = metrics !== undefined ? await serveMetrics(metrics) : undefined;
  const m = endpoint ? activeMetrics() : undefined;
  const { meteredMeta } = await import('../../meta/metered.js');
  const { watchCopier, watchReplicator } = await import('../../client/metrics.js');
  const pair = await openPair(mirrorUrl).catch(async (e: unknown) => {
    await endpoint?.close();
    throw e;
  });
  const { info } = pair;
  const [mirror, source] = m ? [meteredMeta(pair.mirror, m), meteredMeta(pair.source, m)] : [pair.mirror, pair.source];
  const { Replicator } = await import('../../mirror/replicator.js');
  let copier: import('../../mirror/data-copier.js').DataCopier | undefined;
  if (listen) warnExposed(p, 'the replicator\'s wait endpoint', listen.slice(0, listen.lastIndexOf(':')));
  const rep = new Replicator(mirror, source, info.id, { listen, tls });
  const unwatch: Array<() => void> = [];
  try {
    if (data) copier = await startCopier(mirrorUrl, info, threads, metrics);
    const addr = await rep.start();
    if (m) {
      unwatch.push(watchReplicator(m, rep));
      if (copier) unwatch.push(watchCopier(m, copier));
      // `ferry stats META-URL` finds the metrics through the sessions.
      await rep.mirror.setSessionInfo({ metrics: endpoint!.address });
      await copier?.mirror.setSessionInfo({ metrics: endpoint!.address });
    }
    process.stderr.write(`ferry: replicating mirror ${info.id} from version ${rep.applied}; waits answered at ${addr}${endpoint ? `; metrics at http://${endpoint.address}/metrics` : ''}\n`);
    await daemonReady(`replicating mirror ${info.id}`);
    const stop = () => void rep.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // The copier retries its own errors; the replicator ending (stopped or failed) ends both.
    await rep.done();
  } finally {
    await rep.stop();
    if (copier) {
      await copier.stop();
      await copier.mirror.close();
      await Promise.all([copier.from.close(), copier.to.close()]);
    }
    unwatch.forEach((u) => u());
    await mirror.close();
    await source.close();
    await endpoint?.close();
  }
}

/** The data copier of an own-store mirror, on a Meta of its own (it registers its own session). */
async function startCopier(mirrorUrl: string, info: { id: string; storage?: string }, threads: number | undefined, metrics?: string) {
  const [{ openMeta }, { DataCopier }, { openMirrorCopyStores }, { sliceBlocks, chunksPrefix }] = await Promise.all([
    import('../../meta/index.js'),
    import('../../mirror/data-copier.js'),
    import('../../client/storage.js'),
    import('../../chunk/keys.js'),
  ]);
  if (!info.storage) {
    throw new Error(`mirror ${info.id} has no object store of its own (it reads the source's): --data needs a mirror created with --storage URL`);
  }
  const meta = await openMeta(mirrorUrl);
  try {
    const format = await meta.load();
    const { from, to } = await openMirrorCopyStores(format, { metrics });
    const blocks = (id: number, size: number) => sliceBlocks(format.name, id, size, format.blockSize);
    const log = (m: string) => process.stderr.write(`ferry: ${m}\n`);
    const copier = new DataCopier(meta, from, to, blocks, chunksPrefix(format.name), { threads, log });
    try {
      await copier.start();
    } catch (e) {
      await Promise.all([from.close(), to.close()]).catch(() => undefined);
      throw e;
    }
    process.stderr.write(`ferry: copying data of mirror ${info.id} from ${from.url} to ${to.url}\n`);
    return copier;
  } catch (e) {
    await meta.close().catch(() => undefined);
    throw e;
  }
}

async function status(mirrorUrl: string, json: boolean): Promise<void> {
  const { mirror, source, info } = await openPair(mirrorUrl);
  try {
    const { mirrorsOf, redactUrl, resyncHint, retentionOf } = await import('../../mirror/format.js');
    const { formatDuration } = await import('../../meta/retention.js');
    const [applied, sourceVersion, sessions, sourceFormat, mirrorFormat] = await Promise.all([
      mirror.getCounter('appliedVersion'),
      source.currentVersion(),
      mirror.listSessions(),
      source.load(),
      mirror.load(),
    ]);
    const [next] = await source.readChangelog(applied, 1);
    const lagSeconds = next ? Math.max(0, (Date.now() - next.ts) / 1000) : 0;
    const { runningReplicator } = await import('../../mirror/lease.js');
    const rep = await runningReplicator(mirror);
    const registered = mirrorsOf(sourceFormat)[info.id] ?? null;
    // Why the mirror cannot go on without a re-snapshot, if it cannot.
    let needsResync: string | null = null;
    if (registered?.needsResync) needsResync = `fell behind the source's retention window (${registered.needsResync.reason}) at ${registered.needsResync.since}`;
    else if (next && next.version > applied + 1) needsResync = `the source changelog no longer has version ${applied + 1}`;
    else if (!registered) needsResync = 'the source no longer lists this mirror (its changelog may be trimmed)';
    const doc = {
      id: info.id,
      writable: info.writable,
      source: redactUrl(info.source),
      applied,
      sourceVersion,
      lagRecords: Math.max(0, sourceVersion - applied),
      lagSeconds: Number(lagSeconds.toFixed(3)),
      replicator: rep ? { address: rep.mirrorWait, heartbeatAgeSeconds: (Date.now() - rep.heartbeat) / 1000 } : null,
      registered,
      retentionSeconds: retentionOf(sourceFormat),
      needsResync: needsResync ? { why: needsResync, fix: `ferry mirror resync ${redactUrl(mirrorUrl)}` } : null,
      data: info.storage ? await dataStatus(mirror, mirrorFormat, info.storage, sessions) : null,
    };
    if (json) return void (await out(JSON.stringify(doc, null, 2) + '\n'));
    const d = doc.data;
    await out(
      [
        `mirror ${doc.id} (${doc.writable ? 'writable' : 'read-only'}) of ${doc.source}`,
        `applied version ${applied}, source version ${sourceVersion}: ${doc.lagRecords} records behind, lag ${doc.lagSeconds} s`,
        rep ? `replicator at ${rep.mirrorWait}, last heartbeat ${doc.replicator!.heartbeatAgeSeconds.toFixed(1)} s ago` : 'replicator: not running',
        `source retention window: ${formatDuration(doc.retentionSeconds)}`,
        d
          ? `data: own store ${d.store}; ${d.copiedBlocks} blocks (${formatBytes(d.copiedBytes)}) copied, ${d.deletedBlocks} deleted; ` +
            (d.phase === 'not started' ? 'copy not started yet; ' : `${d.phase === 'first pass' ? 'first pass in progress, ' : ''}${d.pendingBlocks}${d.pendingExact ? '' : '+'} blocks (${formatBytes(d.pendingBytes)}) pending; `) +
            `copier ${d.copierRunning ? 'running' : "not running (start it with 'ferry mirror run --data')"}${d.lastError ? `; last error: ${d.lastError}` : ''}`
          : "data: the source's object store (shared)",
        needsResync ? `NEEDS RE-SNAPSHOT: ${needsResync}; ${resyncHint(mirrorUrl)} (stop its 'ferry mirror run' first)` : '',
      ]
        .filter(Boolean)
        .join('\n') + '\n',
    );
  } finally {
    await mirror.close();
    await source.close();
  }
}

/** The data copier's saved progress plus what the mirror's changelog holds beyond its cursor. */
async function dataStatus(mirror: import('../../meta/interface.js').Meta, format: import('../../meta/types.js').Format, store: string, sessions: Array<{ mirrorDataCopier?: unknown; heartbeat: number }>) {
  const [{ dataCopyOf, redactUrl }, { pendingData }, { sliceBlocks }] = await Promise.all([
    import('../../mirror/format.js'),
    import('../../mirror/data-copier.js'),
    import('../../chunk/keys.js'),
  ]);
  const st = dataCopyOf(format);
  const copierRunning = sessions.some((s) => s.mirrorDataCopier && Date.now() - s.heartbeat < 30_000);
  const base = { store: redactUrl(store), copierRunning };
  if (!st) return { ...base, phase: 'not started', copiedBlocks: 0, copiedBytes: 0, deletedBlocks: 0, pendingBlocks: 0, pendingBytes: 0, pendingExact: false, cursor: 0, lastError: undefined as string | undefined };
  const pending = await pendingData(mirror, st, (id, size) => sliceBlocks(format.name, id, size, format.blockSize));
  return {
    ...base,
    phase: st.backfilled ? 'following the changelog' : 'first pass',
    copiedBlocks: st.copiedBlocks,
    copiedBytes: st.copiedBytes,
    deletedBlocks: st.deletedBlocks,
    pendingBlocks: pending.blocks,
    pendingBytes: pending.bytes,
    pendingExact: pending.exact,
    cursor: st.cursor,
    lastError: st.lastError,
  };
}

export default command;
