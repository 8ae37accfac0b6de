// A mount's standby serving process (docs/upgrade.md) starts node and opens the volume next to the serving
// process and the applications using the mount, then waits in reserve: it runs niced, and serves at normal
// priority once told to. Only as root: lowering a nice value back needs CAP_SYS_NICE, and a mount must never
// end up served at a low priority. (A takeover's new processes are not niced: on the loaded test host that
// made their start-up longer, and the stall bench:upgrade measures no shorter.)
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
