// The messages between a mount's supervisor (supervisor.ts) and its serving process (serve-child.ts), over
// Node's IPC channel, and the descriptors the serving process is started with. Apart from serve-child.ts, which
// is a program (it serves as soon as it is loaded).
import type { ClientConfig } from '../client/index.js';
import type { ConnParams } from './addon.js';
import type { HandoverState } from './mount.js';

export const CONNECTION_FD = 3;
/** In a process taking a mount over: the control socket to the old supervisor (after IPC on 4). */
export const CONTROL_FD = 5;

/** How the mount came to this process, and what `ferry status` shows about it. */
export interface MountHistory {
  startedAt: string;
  upgrades: number;
  recoveries: number;
}

export type SupervisorMessage =
  | {
      t: 'start';
      config: ClientConfig;
      mountpoint: string;
      /**
       * fresh: INIT still to come; recover: the previous process died; takeover: a handover; standby: open the
       * volume and wait for go (a spare that takes over at once when the serving process dies).
       */
      mode: 'fresh' | 'recover' | 'takeover' | 'standby';
      init?: { init: string; conn: ConnParams };
      /** recover: the dead process's session (its locks are released); takeover: the session to continue. */
      sid?: number;
      history: MountHistory;
      /** takeover: the descriptor of the control socket on which to ask for the old process's state. */
      control?: number;
    }
  | { t: 'go'; state?: HandoverState; init: { init: string; conn: ConnParams }; deadSid?: number; history?: MountHistory }
  | { t: 'handover' }
  | { t: 'unmount'; force: boolean };

export type ChildMessage =
  | { t: 'prepared' }
  | { t: 'serving'; pid: number; sid: number; init: string; conn: ConnParams; version: string }
  | { t: 'state'; state: HandoverState }
  | { t: 'failed'; error: string; asked?: boolean };

