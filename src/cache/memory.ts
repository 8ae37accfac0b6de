// An in-memory LRU of whole blocks, bounded in bytes. Blocks are immutable, so an entry never goes stale.

export class MemoryCache {
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly blocks = new Map<string, Buffer>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get used(): number {
    return this.bytes;
  }

  get count(): number {
    return this.blocks.size;
  }

  has(key: string): boolean {
    return this.blocks.has(key);
  }

  get(key: string): Buffer | undefined {
    const b = this.blocks.get(key);
    if (!b) {
      this.misses++;
      return undefined;
    }
    this.blocks.delete(key);
    this.blocks.set(key, b);
    this.hits++;
    return b;
  }

  put(key: string, data: Buffer): void {
    // A block larger than the whole cache would only push everything else out.
    if (data.length > this.capacity) return;
    this.delete(key);
    this.blocks.set(key, data);
    this.bytes += data.length;
    for (const [k, b] of this.blocks) {
      if (this.bytes <= this.capacity) break;
      this.blocks.delete(k);
      this.bytes -= b.length;
    }
  }

  delete(key: string): void {
    const b = this.blocks.get(key);
    if (!b) return;
    this.blocks.delete(key);
    this.bytes -= b.length;
  }

  /** Keys, least recently used first. */
  keys(): string[] {
    return [...this.blocks.keys()];
  }
}
