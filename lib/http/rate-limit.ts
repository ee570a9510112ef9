/**
 * Token buckets (pure: time is a parameter). A bucket holds up to `burst` tokens and refills at
 * `ratePerSecond`; a request takes one. Buckets are kept per key (API key, user, client IP) in
 * least-recently-used order and the oldest is dropped past `maxKeys`, so a flood of distinct
 * keys costs bounded memory (a dropped bucket comes back full).
 */
export interface BucketConfig {
  /** Tokens added per second; 0 turns the limit off. */
  ratePerSecond: number;
  /** Capacity: how many requests may arrive at once after a quiet spell. */
  burst: number;
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly config: BucketConfig,
    private readonly maxKeys = 100_000,
  ) {
    if (!(config.ratePerSecond >= 0) || !(config.burst >= 1)) throw new RangeError("ratePerSecond >= 0 and burst >= 1 required");
  }

  get enabled(): boolean {
    return this.config.ratePerSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes `cost` tokens from `key`'s bucket at `nowMs`, or says how long until it could. */
  take(key: string, nowMs: number, cost = 1): TakeResult {
    const { ratePerSecond: rate, burst } = this.config;
    if (rate <= 0) return { ok: true, remaining: Infinity };
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: most recently used last
      // A clock that steps back never adds tokens.
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) * rate) / 1000);
      bucket.at = Math.max(bucket.at, nowMs);
    } else {
      bucket = { tokens: burst, at: nowMs };
    }
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { ok: true, remaining: Math.floor(bucket.tokens) };
    }
    return { ok: false, retryAfterMs: Math.ceil(((cost - bucket.tokens) / rate) * 1000) };
  }
}

/** Retry-After in whole seconds (at least 1). */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
