// The cache group's consistent-hash ring: balance with 128 tokens per member, minimal movement when a member
// joins or leaves, replicas in other zones, and the same ring on every client whatever the member order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashRing, TOKENS_PER_MEMBER, type RingMember } from '../src/cache/index.js';

const KEYS = Array.from({ length: 60_000 }, (_, i) => `vol/chunks/${Math.floor(i / 1000)}/${i}/${i}_0_4194304`);
const members = (n: number, zones = 1): RingMember[] =>
  Array.from({ length: n }, (_, i) => ({ id: `10.0.0.${i + 1}:9600`, zone: `z${i % zones}` }));

function shares(ring: HashRing): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of KEYS) {
    const o = ring.owner(k)!.id;
    m.set(o, (m.get(o) ?? 0) + 1);
  }
  return m;
}

describe('hash ring', () => {
  it('places 128 tokens per member and balances keys within ±35% of the mean', () => {
    assert.equal(TOKENS_PER_MEMBER, 128);
    for (const n of [3, 5, 10]) {
      const s = shares(new HashRing(members(n)));
      assert.equal(s.size, n);
      const mean = KEYS.length / n;
      for (const [id, c] of s) assert.ok(c > 0.65 * mean && c < 1.35 * mean, `${id} owns ${c}, mean ${mean} (n=${n})`);
    }
  });

  it('moves only the joining member’s share when one joins, and only the leaving one’s when one leaves', () => {
    const ring = new HashRing(members(5));
    const before = KEYS.map((k) => ring.owner(k)!.id);
    const joiner = { id: '10.0.0.99:9600', zone: 'z0' };
    ring.add(joiner);
    const afterJoin = KEYS.map((k) => ring.owner(k)!.id);
    let moved = 0;
    KEYS.forEach((_, i) => {
      if (afterJoin[i] !== before[i]) {
        moved++;
        assert.equal(afterJoin[i], joiner.id, 'a key only ever moves to the new member');
      }
    });
    const frac = moved / KEYS.length;
    assert.ok(frac > 0.1 && frac < 0.25, `moved ${frac} of keys, ~1/6 expected`);

    ring.remove(joiner.id);
    assert.deepEqual(KEYS.map((k) => ring.owner(k)!.id), before, 'leaving gives back exactly its keys');

    const leaver = before[0]!;
    ring.remove(leaver);
    KEYS.forEach((k, i) => {
      const now = ring.owner(k)!.id;
      if (before[i] !== leaver) assert.equal(now, before[i], 'keys of other members stay');
      else assert.notEqual(now, leaver);
    });
  });

  it('is the same ring on every client, whatever order members are listed in', () => {
    const a = new HashRing(members(7));
    const b = new HashRing(members(7).reverse());
    for (const k of KEYS.slice(0, 5000)) assert.deepEqual(b.owners(k, 3), a.owners(k, 3));
  });

  it('puts replicas in other zones first, then in ring order', () => {
    const ring = new HashRing(members(6, 3)); // zones z0 z1 z2, two members each
    for (const k of KEYS.slice(0, 5000)) {
      const o = ring.owners(k, 3);
      assert.equal(o.length, 3);
      assert.equal(new Set(o.map((m) => m.zone)).size, 3, 'three replicas in three zones');
      assert.equal(o[0]!.id, ring.owner(k)!.id);
      const four = ring.owners(k, 4);
      assert.equal(new Set(four.map((m) => m.id)).size, 4);
    }
    assert.deepEqual(new HashRing([]).owners('x', 2), []);
    assert.equal(new HashRing(members(2)).owners('x', 5).length, 2);
  });
});
