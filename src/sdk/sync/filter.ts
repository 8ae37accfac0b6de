// --exclude / --include as rsync and juicefs sync take them: rules in command-line order, the first whose
// pattern matches decides, a path no rule matches is included. A pattern without '/' (a trailing one aside)
// or '**' matches the last component; with one, the whole path (anchored at the root when it starts with
// '/', else at any directory boundary). A trailing '/' matches only directories. '*' and '?' stop at '/',
// '**' does not, [...] is a class. An excluded directory is not entered: nothing under it is synced (or
// deleted by --delete-dst).

export interface Rule {
  include: boolean;
  pattern: string;
}

interface Compiled {
  include: boolean;
  re: RegExp;
  dirOnly: boolean;
  wholePath: boolean;
}

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return re;
}

function compile(r: Rule): Compiled {
  let p = r.pattern;
  const dirOnly = p.endsWith('/');
  if (dirOnly) p = p.replace(/\/+$/, '');
  const anchored = p.startsWith('/');
  if (anchored) p = p.slice(1);
  const wholePath = anchored || p.includes('/') || p.includes('**');
  const body = globToRegex(p);
  const re = !wholePath ? new RegExp(`^${body}$`) : anchored ? new RegExp(`^${body}$`) : new RegExp(`(?:^|/)${body}$`);
  return { include: r.include, re, dirOnly, wholePath };
}

export class Filter {
  private readonly rules: Compiled[];
  /** Keys come sorted, so consecutive ones share their directory: its verdict is remembered. */
  private lastDir = '';
  private lastDirExcluded = false;

  constructor(rules: Rule[]) {
    this.rules = rules.filter((r) => r.pattern !== '').map(compile);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The verdict of the rules on one path alone (no parents): true to include. */
  private decide(path: string, isDir: boolean): boolean {
    const name = path.slice(path.lastIndexOf('/') + 1);
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.re.test(r.wholePath ? path : name)) return r.include;
    }
    return true;
  }

  /** Whether a key (a directory's ends with '/') is excluded by itself or by a directory above it. */
  excluded(key: string): boolean {
    if (!this.rules.length) return false;
    const isDir = key.endsWith('/');
    const path = isDir ? key.slice(0, -1) : key;
    const slash = path.lastIndexOf('/');
    if (slash >= 0 && this.dirExcluded(path.slice(0, slash + 1))) return true;
    return !this.decide(path, isDir);
  }

  private dirExcluded(dir: string): boolean {
    if (dir === this.lastDir) return this.lastDirExcluded;
    let out = false;
    for (let i = dir.indexOf('/'); i >= 0; i = dir.indexOf('/', i + 1)) {
      if (!this.decide(dir.slice(0, i), true)) {
        out = true;
        break;
      }
    }
    this.lastDir = dir;
    this.lastDirExcluded = out;
    return out;
  }
}
