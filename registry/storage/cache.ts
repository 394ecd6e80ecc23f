// A Map bounded by entry count and (optionally) by a weight such as bytes; the oldest
// entries go first. Used for the hot, small metadata the registry reads on every request.
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  private weight = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxWeight = Infinity,
    private readonly weigh: (v: V) => number = () => 0,
  ) {}

  get(k: K): V | undefined {
    return this.map.get(k);
  }

  set(k: K, v: V): void {
    this.delete(k);
    const w = this.weigh(v);
    if (w > this.maxWeight) return;
    this.map.set(k, v);
    this.weight += w;
    while (this.map.size > this.maxEntries || this.weight > this.maxWeight) {
      const oldest = this.map.keys().next().value as K;
      this.delete(oldest);
    }
  }

  delete(k: K): void {
    const old = this.map.get(k);
    if (old === undefined) return;
    this.weight -= this.weigh(old);
    this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }
}
