// URLs on the command line are checked before a command runs: a mistyped URL (no scheme, a scheme no engine
// or backend registered) is a wrong command line (exit 2), unlike a volume that cannot be opened (exit 1).
// The registries answer without loading any driver.
import { UsageError, type CommandSpec, type Parsed } from './args.js';

/**
 * The usage word of each leading positional argument: `META-URL PATH...` names args[0] META-URL; with
 * alternatives (`create SRC-META-URL DST-META-URL | run|status MIRROR-META-URL`) the one whose verb is args[0].
 * Words after the first repeated or optional one are not named (their positions vary).
 */
export function argNames(usage: string, args: string[]): string[] {
  const alternatives = usage.split(/\s+\|\s+/).map((a) => a.trim().split(/\s+/));
  const isVerb = (w: string) => /^[a-z][a-z|-]*$/.test(w);
  const chosen =
    alternatives.find((words) => isVerb(words[0] ?? '') && words[0]!.split('|').includes(args[0] ?? '')) ??
    alternatives.find((words) => !isVerb(words[0] ?? '')) ??
    [];
  const names: string[] = [];
  for (const w of chosen) {
    if (w.startsWith('[') || w.endsWith('...')) break;
    names.push(w);
  }
  return names;
}

/**
 * A metadata URL given as `env:NAME` is read from environment variable NAME, so a URL with its password never
 * shows in the process's arguments (a container's command, `ps`): the CSI sidecar and scripts use it.
 */
export function resolveEnvUrls(spec: CommandSpec, p: Parsed): void {
  const names = argNames(spec.usage, p.args);
  p.args.forEach((a, i) => {
    const m = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(a);
    if (!m || !names[i]?.endsWith('META-URL')) return;
    const v = process.env[m[1]!];
    if (!v) throw new UsageError(`${names[i]} is ${a}, but the environment variable ${m[1]} is not set`);
    p.args[i] = v;
  });
}

/** Throws a UsageError for the first malformed metadata or storage URL among the arguments and --storage. */
export async function checkUrlArgs(spec: CommandSpec, p: Parsed): Promise<void> {
  // Fewer arguments than the usage names: another form of the command (`ferry mount --upgrade MOUNTPOINT`).
  const all = argNames(spec.usage, p.args);
  const names = p.args.length < all.length ? [] : all;
  const metaUrls = p.args.filter((_, i) => names[i]?.endsWith('META-URL'));
  const storageUrls = p.args.filter((_, i) => names[i] === 'STORAGE-URL');
  const storageOpt = p.values.storage;
  if (typeof storageOpt === 'string' && storageOpt !== '') storageUrls.push(storageOpt);
  if (metaUrls.length) {
    const { metaUrlProblem } = await import('../meta/schemes.js');
    for (const u of metaUrls) {
      const problem = metaUrlProblem(u);
      if (problem) throw new UsageError(problem);
    }
  }
  if (storageUrls.length) {
    const { objectUrlProblem } = await import('../object/index.js');
    for (const u of storageUrls) {
      // '%d' marks shard numbers (ferry format --shards), not a URL escape.
      const problem = objectUrlProblem(u.replace(/%d/g, '0'));
      if (problem) throw new UsageError(problem);
    }
  }
}
