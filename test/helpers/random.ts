// The one seeded PRNG of the tests (mulberry32): a failing run replays from its seed.

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** An integer in [0, n) (0 when n <= 0). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
}

export function prng(seed: number): Prng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => (n <= 0 ? 0 : Math.floor(next() * n));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (xs) => xs[int(xs.length)]!,
    bytes(n) {
      const b = Buffer.allocUnsafe(n);
      let i = 0;
      for (; i + 4 <= n; i += 4) b.writeUInt32LE((next() * 4294967296) >>> 0, i);
      for (; i < n; i++) b[i] = (next() * 256) | 0;
      return b;
    },
  };
}
