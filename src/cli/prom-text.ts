// A strict parser of the Prometheus text exposition format (version 0.0.4), for `ferry stats` and the tests.
// prom-client has no parser, and the npm one in common use (parse-prometheus-text-format) merges the series
// of a labelled histogram into one, losing each operation's _count and _sum. Strict: a malformed line, a
// sample outside its declared family, a family declared twice or split, a duplicate series, or a histogram
// bucket without `le` is an error naming the line.

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (a histogram's `x_bucket`, `x_sum`, `x_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: FamilyType;
  help: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<FamilyType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function suffixes(type: FamilyType): string[] {
  if (type === 'histogram') return ['_bucket', '_sum', '_count'];
  if (type === 'summary') return ['', '_sum', '_count'];
  return [''];
}

function parseValue(s: string, where: string): number {
  // As Prometheus reads values (Go's ParseFloat): Inf, NaN in any case (prom-client writes 'Nan').
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: '${s}' is not a number`);
  return Number(s);
}

/** Parses one sample line: name, labels, value (an optional timestamp is checked and dropped). */
function parseSample(line: string, where: string): PromSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) throw new Error(`${where}: no metric name`);
  const name = m[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(i));
      if (!lm || !LABEL.test(lm[1]!)) throw new Error(`${where}: bad label at '${line.slice(i, i + 20)}'`);
      i += lm[0].length;
      let v = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') v += '\n';
          else if (e === '\\' || e === '"') v += e;
          else throw new Error(`${where}: bad escape '\\${e ?? ''}' in a label value`);
        } else v += c;
      }
      if (Object.hasOwn(labels, lm[1]!)) throw new Error(`${where}: label '${lm[1]}' twice`);
      labels[lm[1]!] = v;
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after a label`);
    }
  }
  const rest = line.slice(i);
  if (!/^[ \t]/.test(rest)) throw new Error(`${where}: expected a space before the value`);
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length > 2) throw new Error(`${where}: unexpected text after the value`);
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`${where}: bad timestamp '${parts[1]}'`);
  return { name, labels, value: parseValue(parts[0]!, where) };
}

export function parsePromText(text: string): PromFamily[] {
  const families: PromFamily[] = [];
  const byName = new Map<string, PromFamily>();
  const series = new Set<string>();
  let current: PromFamily | undefined;
  const family = (name: string, where: string): PromFamily => {
    let f = byName.get(name);
    if (f && f !== current) throw new Error(`${where}: family '${name}' appears again after another one`);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      byName.set(name, f);
      families.push(f);
    }
    current = f;
    return f;
  };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, n) => {
    const where = `line ${n + 1}`;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kw, name, arg = ''] = m;
      if (!NAME.test(name!)) throw new Error(`${where}: bad metric name '${name}'`);
      const f = family(name!, where);
      if (kw === 'TYPE') {
        if (!TYPES.has(arg.trim() as FamilyType)) throw new Error(`${where}: unknown type '${arg}'`);
        if (f.samples.length || f.type !== 'untyped') throw new Error(`${where}: TYPE of '${name}' after its samples or twice`);
        f.type = arg.trim() as FamilyType;
      } else f.help = arg;
      return;
    }
    const s = parseSample(line, where);
    // The family the sample belongs to: the current one when its name is one of that family's sample names.
    const own = current && suffixes(current.type).some((x) => current!.name + x === s.name) ? current : family(s.name, where);
    if (own.type === 'histogram' && s.name.endsWith('_bucket') && s.labels.le === undefined) throw new Error(`${where}: histogram bucket without 'le'`);
    const key = `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`${where}: series ${key} twice`);
    series.add(key);
    own.samples.push(s);
  });
  return families;
}
