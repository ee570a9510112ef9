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

import { createRateLimiter, type TokenBucket } from "@/lib/limits/token-bucket";

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

export class TokenBuckets {
  /** One bucket per key, least recently used first. */
  private readonly buckets = new Map<string, TokenBucket>();

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
    if (!this.enabled) return { ok: true, remaining: Infinity };
    let bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key); // re-inserted below: most recently used last
    else bucket = createRateLimiter(this.config);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    const r = bucket.take(nowMs, cost);
    return r.ok ? { ok: true, remaining: bucket.available() } : { ok: false, retryAfterMs: r.retryAtMs - nowMs };
  }
}

/** Retry-After in whole seconds (at least 1). */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
