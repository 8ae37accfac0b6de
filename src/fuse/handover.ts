// The messages of a FUSE mount handover (docs/upgrade.md), between the supervisor of a running mount and a
// `ferry mount` taking it over, over the mount's control socket. Each message is 4 bytes of big-endian length
// and a JSON document; the connection's descriptor travels with the first answer (SCM_RIGHTS, in the addon:
// Node cannot pass descriptors over a Unix socket). A change of these shapes bumps HANDOVER_PROTOCOL, and
// test/upgrade-compat.test.ts hands a mount over from the previous commit's build to catch one that did not.
import type { ConnParams } from './addon.js';
import type { ClientConfig } from '../client/index.js';
import type { HandoverState } from './mount.js';
import { daemonFile } from './daemon.js';

export const HANDOVER_PROTOCOL = 1;

/** The control socket of the supervisor serving mount point mp. */
export function controlSocketFor(mp: string): string {
  return daemonFile('mount', mp, 'json').replace(/\.json$/, '.sock');
}

/** New process -> supervisor: hand me the mount. */
export interface UpgradeRequest {
  op: 'upgrade';
  protocol: number;
  version: string;
  pid: number;
}

/** Supervisor -> new process, with the connection's descriptor attached: what it needs to prepare. */
export interface ConnectionOffer {
  op: 'connection';
  protocol: number;
  version: string;
  mountpoint: string;
  config: ClientConfig;
  volume: string;
  /** The kernel's INIT request (base64) and the parameters answered. */
  init: string;
  conn: ConnParams;
  sid: number;
  /** When the mount was first mounted (ISO), and how often it was handed over or recovered since. */
  startedAt: string;
  upgrades: number;
  recoveries: number;
}

/** New process -> supervisor: prepared; stop serving and send the state. */
export interface Go {
  op: 'go';
}

/** Supervisor -> new process: the old server stopped reading; what it left. */
export interface StateMessage {
  op: 'state';
  state: HandoverState;
}

export interface Refusal {
  op: 'error';
  message: string;
}

export type ControlMessage = UpgradeRequest | ConnectionOffer | Go | StateMessage | Refusal;

export function encode(m: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(m));
}
