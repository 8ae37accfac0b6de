// Who a WebHDFS request acts as. Hadoop's simple authentication names a user (`user.name=`); FerryFS maps names
// to uid/gid with a users file (`name:uid[:gid]`, JuiceFS's Hadoop SDK format plus an optional primary group)
// and a groups file (`name:gid[:user,user]`, members get the group as a supplementary one). A proxy user
// (`--proxy-user`) may act for another with `doas=`. Names also go the other way: owners and groups in
// FileStatus answers, and SETOWNER's names.
import { readFileSync } from 'node:fs';
import { hdfsErr } from './errors.js';

export interface HdfsUser {
  name: string;
  uid: number;
  gid: number;
  /** Every group, the primary one first. */
  gids: number[];
}

export interface IdentityOptions {
  /** Honour `user.name=` (Hadoop's simple authentication, no proof of who asks). */
  allowSimpleAuth?: boolean;
  usersFile?: string;
  groupsFile?: string;
  /** Users that may act for others with `doas=`. */
  proxyUsers?: string[];
  /** Serve requests without user.name as this identity (off unless given). */
  anonymous?: { uid: number; gid: number };
}

/** Hadoop's name for a user nobody named (hadoop.http.staticuser.user). */
const ANONYMOUS_NAME = 'dr.who';

function idOf(file: string, line: number, what: string, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text.trim()) || Number(text) > 2 ** 32 - 1) throw new Error(`${file}:${line}: ${what} '${text ?? ''}' is not a number`);
  return Number(text);
}

function lines(file: string): Array<[number, string[]]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: Array<[number, string[]]> = [];
  text.split('\n').forEach((l, i) => {
    const t = l.replace(/#.*/, '').trim();
    if (t) out.push([i + 1, t.split(':').map((s) => s.trim())]);
  });
  return out;
}

export class Identities {
  private readonly users = new Map<string, HdfsUser>();
  private readonly groups = new Map<string, number>();
  private readonly userNames = new Map<number, string>();
  private readonly groupNames = new Map<number, string>();
  private readonly proxies: Set<string>;

  constructor(readonly opts: IdentityOptions) {
    this.proxies = new Set(opts.proxyUsers ?? []);
    const members = new Map<string, number[]>();
    if (opts.groupsFile) {
      for (const [n, [name, gid, list]] of lines(opts.groupsFile)) {
        if (!name) throw new Error(`${opts.groupsFile}:${n}: a line is NAME:GID[:USER,USER...]`);
        const g = idOf(opts.groupsFile, n, 'gid', gid);
        this.groups.set(name, g);
        if (!this.groupNames.has(g)) this.groupNames.set(g, name);
        for (const u of (list ?? '').split(',').map((s) => s.trim()).filter(Boolean)) (members.get(u) ?? members.set(u, []).get(u)!).push(g);
      }
    }
    if (opts.usersFile) {
      for (const [n, [name, uid, gid]] of lines(opts.usersFile)) {
        if (!name) throw new Error(`${opts.usersFile}:${n}: a line is NAME:UID[:GID]`);
        const u = idOf(opts.usersFile, n, 'uid', uid);
        const more = members.get(name) ?? [];
        const g = gid !== undefined && gid !== '' ? idOf(opts.usersFile, n, 'gid', gid) : (more[0] ?? u);
        this.users.set(name, { name, uid: u, gid: g, gids: [g, ...more.filter((x) => x !== g)] });
        if (!this.userNames.has(u)) this.userNames.set(u, name);
      }
    }
    for (const u of this.proxies) if (!this.users.has(u)) throw new Error(`proxy user '${u}' is not in the users file`);
  }

  /** The user a request acts as, from its user.name and doas parameters. */
  who(query: URLSearchParams): HdfsUser {
    const name = query.get('user.name');
    const doas = query.get('doas');
    if (name === null || name === '') {
      const a = this.opts.anonymous;
      if (a && doas === null) return { name: this.userNames.get(a.uid) ?? ANONYMOUS_NAME, uid: a.uid, gid: a.gid, gids: [a.gid] };
      throw hdfsErr('SecurityException', this.opts.allowSimpleAuth ? 'Authentication required: pass user.name=NAME' : 'Authentication required, and this server does not allow simple authentication (user.name); see --allow-simple-auth and --anonymous');
    }
    if (!this.opts.allowSimpleAuth) throw hdfsErr('SecurityException', 'Simple authentication (user.name) is not enabled on this server (start it with --allow-simple-auth)');
    const real = this.users.get(name);
    if (!real) throw hdfsErr('SecurityException', `Unknown user '${name}' (not in the server's users file)`);
    if (doas === null || doas === name) return real;
    if (!this.proxies.has(name)) throw hdfsErr('AccessControlException', `User: ${name} is not allowed to impersonate ${doas}`);
    const as = this.users.get(doas);
    if (!as) throw hdfsErr('SecurityException', `Unknown user '${doas}' (not in the server's users file)`);
    return as;
  }

  userName(uid: number): string {
    return this.userNames.get(uid) ?? String(uid);
  }

  groupName(gid: number): string {
    return this.groupNames.get(gid) ?? String(gid);
  }

  /** SETOWNER's owner: a known name or a number. */
  uidOf(name: string): number {
    const u = this.users.get(name)?.uid ?? (/^\d+$/.test(name) ? Number(name) : undefined);
    if (u === undefined) throw hdfsErr('IllegalArgumentException', `Unknown user '${name}' (not in the server's users file)`);
    return u;
  }

  gidOf(name: string): number {
    const g = this.groups.get(name) ?? (/^\d+$/.test(name) ? Number(name) : undefined);
    if (g === undefined) throw hdfsErr('IllegalArgumentException', `Unknown group '${name}' (not in the server's groups file)`);
    return g;
  }
}
