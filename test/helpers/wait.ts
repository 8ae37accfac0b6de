// The one way tests wait: a plain delay, or polling a condition that comes true by itself.
export { setTimeout as sleep } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls cond every `everyMs` until it holds; throws naming `what` after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what = 'a condition', ms = 60_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Whether a process of this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
