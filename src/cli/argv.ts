// A daemon's command line as other users see it (/proc/PID/cmdline is world-readable): `ferry ... -d` starts
// the daemon with passwords in URLs and secret option values replaced by ***, and hands it the real
// arguments through its environment (readable by its owner only), which it drops once read.
import { redactText } from './redact.js';

const ENV = 'FERRY_DAEMON_ARGV';
/** Options whose value is a secret. */
const SECRET_OPTIONS = new Set(['--secret-key']);

/** The arguments with secrets replaced by *** (flags and their order kept). */
export function scrubbedArgs(args: string[]): string[] {
  return args.map((a, i) => {
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && SECRET_OPTIONS.has(a.slice(0, eq))) return `${a.slice(0, eq)}=***`;
    if (i > 0 && SECRET_OPTIONS.has(args[i - 1]!)) return '***';
    return redactText(a);
  });
}

/** argv and env of a daemon child of this command line: secrets out of argv, into the environment. */
export function daemonArgv(args: string[]): { args: string[]; env: Record<string, string> } {
  const shown = scrubbedArgs(args);
  if (shown.every((a, i) => a === args[i])) return { args, env: {} };
  return { args: shown, env: { [ENV]: JSON.stringify(args) } };
}

/** This process's command arguments: the real ones handed over by daemonArgv, else process.argv. */
export function commandArgs(): string[] {
  const handed = process.env[ENV];
  if (handed === undefined) return process.argv.slice(2);
  delete process.env[ENV];
  return JSON.parse(handed) as string[];
}
