// Getting ready to serve a mount (a takeover's new processes starting node and opening the volume, a standby
// waiting in reserve) competes for the CPU with the applications using the mount: on a loaded 2-core host
// their reads stalled for tens of milliseconds while node started next to them (bench:upgrade). That work
// runs niced; the process serves at normal priority again. Only as root: lowering a nice value back needs
// CAP_SYS_NICE, and a mount must never end up served at a low priority.
import { setPriority } from 'node:os';

const PREPARE_NICE = 10;

function mayRestore(): boolean {
  return process.getuid?.() === 0;
}

/** This process (and the processes it starts from now on) prepares at a low priority. */
export function prepareNiced(): void {
  if (!mayRestore()) return;
  try {
    setPriority(PREPARE_NICE);
  } catch {
    // not allowed here (a container without the capability): prepared at normal priority
  }
}

/** Back to normal priority: this process serves (or supervises) the mount now. */
export function serveAtNormalPriority(): void {
  if (!mayRestore()) return;
  try {
    setPriority(0);
  } catch {
    // cannot happen as root; at worst it serves niced
  }
}
