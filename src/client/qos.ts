// QoS of one client: its own limits (ClientConfig.qos: --upload-limit, --download-limit, --ops-limit) and the
// volume's (the format record's qos section, set by `ferry config`), the lower one winning, 0 meaning none.
// The buckets read the effective rate from the newest format record at every refill; the record reaches
// the client through the format refresh of its background jobs (FORMAT_REFRESH_MS, 2 s), which goes
// through the metadata proxy below, so a `ferry config` change applies within seconds.
import type { Meta } from '../meta/interface.js';
import type { Format } from '../meta/types.js';
import { TokenBucket } from '../object/index.js';
import type { ClientConfig } from './config.js';

const MiB = 1 << 20;

/** The lower of two limits where 0 (or none) means unlimited. */
export function lowerLimit(a: number | undefined, b: number | undefined): number {
  if (!a) return b ?? 0;
  if (!b) return a;
  return Math.min(a, b);
}

/**
 * Meta methods that are not the user's operations: the session and format bookkeeping, background jobs
 * (deletion, compaction, trash and TTL runs, changelog trimming) and the scans (generators). They are
 * never held back, so a slow client's session stays alive and its format refresh is never starved.
 */
const UNCOUNTED = new Set([
  'load', 'updateFormat', 'close', 'newSession', 'heartbeat', 'setSessionInfo', 'closeSession', 'listSessions', 'cleanStaleSessions',
  'processDeletedFiles', 'pendingDeletedFiles', 'pendingDeletedSlices', 'ackDeletedSlices', 'replaceSlices', 'listFragmentedChunks',
  'currentVersion', 'adoptSession', 'openState', 'restoreOpenState', 'dropDeadSession', 'takeLease', 'readChangelog', 'trimChangelog', 'trashPurgeExpired', 'ttlExpireDue', 'openHolders',
]);

export class ClientQos {
  private format: Format;
  readonly upload: TokenBucket;
  readonly download: TokenBucket;
  readonly ops: TokenBucket;

  constructor(cfg: ClientConfig['qos'], format: Format) {
    this.format = format;
    const own = cfg ?? {};
    this.upload = new TokenBucket(() => lowerLimit((own.uploadLimit ?? 0) * MiB, this.format.qos?.uploadBytesPerSec));
    this.download = new TokenBucket(() => lowerLimit((own.downloadLimit ?? 0) * MiB, this.format.qos?.downloadBytesPerSec));
    this.ops = new TokenBucket(() => lowerLimit(own.opsLimit, this.format.qos?.metaOpsPerSec));
  }

  /** The format record this client last loaded (limits are read from it). */
  get current(): Format {
    return this.format;
  }

  /**
   * `meta` with each user operation charged one token of the ops bucket before it runs; `load` and
   * `updateFormat` keep the record current. Methods run on the real object (its private state intact).
   */
  wrapMeta(meta: Meta): Meta {
    // By function, not by name: a method replaced on the object (tests spy on meta this way) is wrapped anew.
    const wrapped = new WeakMap<object, unknown>();
    return new Proxy(meta, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function' || prop === 'constructor') return value;
        const fn = value as (...args: unknown[]) => unknown;
        let w = wrapped.get(fn);
        if (w) return w;
        const name = String(prop);
        if (prop === 'load' || prop === 'updateFormat') {
          w = async (...args: unknown[]) => {
            const f = (await fn.apply(target, args)) as Format;
            this.format = f;
            return f;
          };
        } else if (UNCOUNTED.has(name) || name.startsWith('scan')) {
          w = fn.bind(target);
        } else {
          // Unlimited (the usual case): called as it is, no extra promise on every metadata operation.
          w = (...args: unknown[]) => (this.ops.limited ? this.ops.take(1).then(() => fn.apply(target, args)) : fn.apply(target, args));
        }
        wrapped.set(fn, w);
        return w;
      },
    });
  }
}
