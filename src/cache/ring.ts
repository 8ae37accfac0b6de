// The cache group's consistent-hash ring: every member places 128 virtual tokens (hashes of its id), a key
// belongs to the member of the first token at or after the key's hash. A member joining or leaving only
// takes or gives back the arcs before its own tokens, so only ~1/N of the keys move.
import { createHash } from 'node:crypto';

export const TOKENS_PER_MEMBER = 128;

export interface RingMember {
  /** Stable identity (the member's group address), so a restart keeps its share. */
  id: string;
  zone?: string;
}

export function hash32(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0);
}

export class HashRing {
  private tokens: Array<{ h: number; m: RingMember }> = [];
  private readonly members = new Map<string, RingMember>();

  constructor(members: Iterable<RingMember> = [], readonly tokensPerMember = TOKENS_PER_MEMBER) {
    for (const m of members) this.members.set(m.id, m);
    this.rebuild();
  }

  get size(): number {
    return this.members.size;
  }

  list(): RingMember[] {
    return [...this.members.values()];
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  add(m: RingMember): void {
    this.members.set(m.id, m);
    this.rebuild();
  }

  remove(id: string): void {
    if (this.members.delete(id)) this.rebuild();
  }

  /** Replaces the member list; returns whether anything changed. */
  set(members: RingMember[]): boolean {
    const same =
      members.length === this.members.size && members.every((m) => this.members.get(m.id)?.zone === m.zone);
    if (same) return false;
    this.members.clear();
    for (const m of members) this.members.set(m.id, m);
    this.rebuild();
    return true;
  }

  private rebuild(): void {
    const t: Array<{ h: number; m: RingMember }> = [];
    for (const m of this.members.values()) {
      for (let i = 0; i < this.tokensPerMember; i++) t.push({ h: hash32(`${m.id}#${i}`), m });
    }
    // Ties (vanishingly rare) are broken by id so every client builds the same ring.
    t.sort((a, b) => a.h - b.h || (a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0));
    this.tokens = t;
  }

  /** Every member in ring order starting at the key's position (each once). */
  walk(key: string): RingMember[] {
    const n = this.tokens.length;
    if (n === 0) return [];
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tokens[mid]!.h < h) lo = mid + 1;
      else hi = mid;
    }
    const out: RingMember[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < n && out.length < this.members.size; i++) {
      const m = this.tokens[(lo + i) % n]!.m;
      if (!seen.has(m.id)) {
        seen.add(m.id);
        out.push(m);
      }
    }
    return out;
  }

  /** The owner of a key. */
  owner(key: string): RingMember | undefined {
    return this.walk(key)[0];
  }

  /**
   * The owner and up to replicas-1 further members: first those in zones not used yet (so one zone going
   * down leaves a copy), then the next ones in ring order.
   */
  owners(key: string, replicas = 1): RingMember[] {
    const order = this.walk(key);
    if (replicas <= 1 || order.length <= 1) return order.slice(0, 1);
    const out = [order[0]!];
    const zones = new Set([order[0]!.zone]);
    for (const m of order.slice(1)) {
      if (out.length >= replicas) break;
      if (!zones.has(m.zone)) {
        out.push(m);
        zones.add(m.zone);
      }
    }
    for (const m of order.slice(1)) {
      if (out.length >= replicas) break;
      if (!out.includes(m)) out.push(m);
    }
    return out;
  }
}
