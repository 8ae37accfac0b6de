// Shared argument parsing for every subcommand: node:util parseArgs (no framework, so `ferry` starts fast),
// --help for each command, usage errors as one line, and parsers for sizes and counts.
import { parseArgs } from 'node:util';

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Name of the value in help (`--storage URL`). */
  arg?: string;
  help: string;
  /** Given more than once, the values are joined with commas (`-o a -o b` is `-o a,b`, as mount(8) takes it). */
  commaList?: boolean;
  /** May be given more than once; the values in command-line order are in Parsed.sequence (ferry sync's filters). */
  repeatable?: boolean;
}

export interface CommandSpec {
  name: string;
  /** One line for `ferry --help`. */
  summary: string;
  /** Arguments after `ferry NAME [OPTIONS]`, e.g. `META-URL NAME`. */
  usage: string;
  /** A paragraph or two for `ferry NAME --help`. */
  description: string;
  examples: string[];
  options?: Record<string, OptionSpec>;
  minArgs: number;
  /** Undefined means any number. */
  maxArgs?: number;
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  args: string[];
  /** Every option given, in command-line order (for options whose relative order matters). */
  sequence?: Array<[name: string, value: string | boolean]>;
}

export interface Command {
  spec: CommandSpec;
  run(p: Parsed): Promise<void>;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

export function helpText(spec: CommandSpec): string {
  const lines: string[] = [];
  lines.push(`Usage: ferry ${spec.name}${spec.options && Object.keys(spec.options).length ? ' [OPTIONS]' : ''} ${spec.usage}`.trimEnd());
  lines.push('');
  lines.push(spec.summary);
  if (spec.description) {
    lines.push('');
    lines.push(spec.description);
  }
  const opts = { ...(spec.options ?? {}), help: HELP };
  lines.push('');
  lines.push('Options:');
  const left = Object.entries(opts).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    return `  ${short}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  Object.values(opts).forEach((o, i) => lines.push(left[i]!.padEnd(width) + o.help));
  if (spec.examples.length) {
    lines.push('');
    lines.push(spec.examples.length > 1 ? 'Examples:' : 'Example:');
    for (const ex of spec.examples) lines.push(`  ${ex}`);
  }
  return lines.join('\n') + '\n';
}

/** Turns parseArgs' multi-sentence errors into one short line. */
function parseError(spec: CommandSpec, e: unknown): UsageError {
  const err = e as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(err.message ?? '')?.[1];
  const see = `(see 'ferry ${spec.name} --help')`;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option '${quoted ?? err.message}' for 'ferry ${spec.name}' ${see}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = quoted?.split(' ')[0] ?? '';
      if (/argument missing/.test(err.message ?? '')) return new UsageError(`option '${name}' needs a value ${see}`);
      // `--storage -x`: a value that starts with a dash, which could as well be a forgotten value and an option.
      if (/ambiguous/.test(err.message ?? '')) return new UsageError(`option '${name}' needs a value; one starting with '-' goes as ${name}=VALUE ${see}`);
      return new UsageError(`option '${name}' takes no value ${see}`);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}' ${see}`);
    default:
      return new UsageError(`${(err.message ?? String(e)).split(/\.\s/)[0]} ${see}`);
  }
}

const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * `--capacity -5`: parseArgs takes a value starting with '-' for an option and refuses it as ambiguous; a
 * negative number is meant as the value, so it is glued on (`--capacity=-5`) and its parser says what is
 * wrong with it.
 */
function glueNegativeValues(argv: string[], options: Record<string, { type: 'string' | 'boolean'; short?: string }>): string[] {
  const takesValue = (a: string) =>
    a.startsWith('--') ? options[a.slice(2)]?.type === 'string' : /^-[^-]$/.test(a) && Object.values(options).some((o) => o.short === a[1] && o.type === 'string');
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return out.concat(argv.slice(i));
    const next = argv[i + 1];
    if (next !== undefined && NEGATIVE_NUMBER.test(next) && takesValue(a)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parses argv for a command; returns undefined when --help was printed. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.commaList || o.repeatable ? { multiple: true } : {}) };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[]; tokens: Array<{ kind: string; name?: string; value?: string }> };
  try {
    parsed = parseArgs({ args: glueNegativeValues(argv, options), options, allowPositionals: true, strict: true, tokens: true }) as typeof parsed;
  } catch (e) {
    // `--help` anywhere wins over a mistake elsewhere on the line.
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(helpText(spec));
      return undefined;
    }
    throw parseError(spec, e);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(spec));
    return undefined;
  }
  const args = parsed.positionals;
  if (args.length < spec.minArgs) {
    const names = spec.usage.split(/\s+/).filter((w) => !w.startsWith('['));
    const missing = names[args.length]?.replace(/\.\.\.$/, '') ?? 'argument';
    throw new UsageError(`missing ${missing}: usage is 'ferry ${spec.name} ${spec.usage}' (see 'ferry ${spec.name} --help')`);
  }
  if (spec.maxArgs !== undefined && args.length > spec.maxArgs) {
    throw new UsageError(`too many arguments (unexpected '${args[spec.maxArgs]}'): usage is 'ferry ${spec.name} ${spec.usage}'`);
  }
  for (const [name, v] of Object.entries(parsed.values)) if (Array.isArray(v)) parsed.values[name] = v.join(',');
  const sequence = parsed.tokens.filter((t) => t.kind === 'option').map((t): [string, string | boolean] => [t.name!, t.value ?? true]);
  return { values: parsed.values, args, sequence };
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

/** The message for a negative number where only 0 and up make sense. */
export function refuseNegative(option: string, raw: string, expected: string): void {
  if (/^\s*-/.test(raw)) throw new UsageError(`${option}: '${raw}' is negative (expected ${expected})`);
}

/** Parses `4M`, `64K`, `10G`, `4MiB`, `1048576` (bytes, binary units). */
export function parseSize(option: string, raw: string): number {
  refuseNegative(option, raw, 'a size such as 512K, 4M or 100G');
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?\s*$/i.exec(raw);
  if (!m) throw new UsageError(`${option}: '${raw}' is not a size (expected a number with an optional K, M, G, T or P suffix)`);
  const n = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option}: '${raw}' is too large`);
  return n;
}

/** Runs a lower layer's parser on a command-line value (a duration, ...): its EINVAL is a wrong command line. */
export function parseWith<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    const err = e as { code?: unknown; description?: unknown; message?: unknown };
    if (err?.code === 'EINVAL') throw new UsageError(String(err.description ?? err.message));
    throw e;
  }
}

/** A non-negative whole number. */
export function parseCount(option: string, raw: string, max = Number.MAX_SAFE_INTEGER): number {
  refuseNegative(option, raw, 'a whole number, 0 or more');
  if (!/^\s*\d+\s*$/.test(raw)) throw new UsageError(`${option}: '${raw}' is not a non-negative whole number`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n > max) throw new UsageError(`${option}: '${raw}' is too large (at most ${max})`);
  return n;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** Volume paths are absolute inside the volume; `a/b` means `/a/b`. */
export function volumePath(raw: string): string {
  if (raw === '') throw new UsageError('empty path');
  const parts: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}
