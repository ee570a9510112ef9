/** A binary min-heap of (key, value) pairs. Pure. */
export class MinHeap<T> {
  private keys: number[] = [];
  private values: T[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number, value: T): void {
    const keys = this.keys;
    const values = this.values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      values[i] = values[parent]!;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  peekKey(): number {
    return this.keys.length > 0 ? this.keys[0]! : Infinity;
  }

  peek(): T | undefined {
    return this.values[0];
  }

  pop(): T | undefined {
    const keys = this.keys;
    const values = this.values;
    if (keys.length === 0) return undefined;
    const top = values[0];
    const lastKey = keys.pop()!;
    const lastValue = values.pop()!;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && keys[r]! < keys[l]! ? r : l;
        if (keys[c]! >= lastKey) break;
        keys[i] = keys[c]!;
        values[i] = values[c]!;
        i = c;
      }
      keys[i] = lastKey;
      values[i] = lastValue;
    }
    return top;
  }

  clear(): void {
    this.keys = [];
    this.values = [];
  }
}

/**
 * Timers keyed by whole seconds: a bucket of values per second plus a small heap of the distinct
 * seconds. Pushing is O(1) (a hash lookup and an array push) and firing walks a bucket in order,
 * instead of a log(n) sift through a heap of a million entries per fire.
 */
export class TimerQueue<T> {
  private readonly buckets = new Map<number, T[]>();
  private readonly seconds = new MinHeap<null>();

  /** Number of distinct pending seconds. */
  get size(): number {
    return this.seconds.size;
  }

  push(key: number, value: T): void {
    const bucket = this.buckets.get(key);
    if (bucket) {
      bucket.push(value);
      return;
    }
    this.buckets.set(key, [value]);
    this.seconds.push(key, null);
  }

  /** The earliest pending second, or Infinity. */
  peekKey(): number {
    return this.seconds.peekKey();
  }

  /** The values of the earliest second (still queued until `dropFirst`); may grow while walked. */
  first(): T[] {
    return this.buckets.get(this.seconds.peekKey()) ?? [];
  }

  dropFirst(): void {
    const key = this.seconds.peekKey();
    if (key === Infinity) return;
    this.seconds.pop();
    this.buckets.delete(key);
  }

  clear(): void {
    this.buckets.clear();
    this.seconds.clear();
  }
}
