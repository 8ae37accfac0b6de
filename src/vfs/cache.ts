// Short-lived caches of attributes and directory entries: other clients' changes show up within the
// timeout, this client's own changes update the caches at once.
export class TtlCache<K, V> {
  private readonly map = new Map<K, { value: V; expire: number }>();

  constructor(private readonly ttlMs: number, private readonly max = 100_000) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expire < performance.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0) return;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, { value, expire: performance.now() + this.ttlMs });
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}

export function entryKey(parent: number, name: string): string {
  return `${parent}\0${name}`;
}
