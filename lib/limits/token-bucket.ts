/**
 * Token buckets, pure and timer-free (time is a parameter): the campaign dispatcher's channel and
 * campaign send rates (lib/campaigns/policy.ts) and the REST API's per-key and per-IP limits
 * (lib/http/rate-limit.ts) are both made of these.
 */

const SECOND = 1000;

export type RateDecision = { ok: true } | { ok: false; retryAtMs: number };

export interface RateLimiter {
  /** Takes `cost` tokens (default 1) at `nowMs` if there are that many; otherwise says when there will be. */
  take(nowMs: number, cost?: number): RateDecision;
  /** Returns a token taken at `nowMs` that was not used (never above the burst). */
  giveBack?(nowMs: number): void;
}

// Refills accumulate floating-point error (rate 3/s adds 0.003 a millisecond, 0.999 is really
// 0.99899…). A token short by less than a millionth counts as whole, and the wait is rounded up
// from a hair under the exact figure, so a caller that comes back at `retryAtMs` gets its token
// (up to 10,000/s, 1e-8 ms of slack is at most 1e-7 of a token) and the wait is never a
// millisecond longer than it should be.
const TOKEN_SLACK = 1e-6;
const WAIT_SLACK_MS = 1e-8;

/** A single bucket, which also says how many whole tokens it holds. */
export interface TokenBucket extends RateLimiter {
  /** Whole tokens left after the last `take`. */
  available(): number;
  giveBack(nowMs: number): void;
}

/**
 * A token bucket: `burst` tokens at most, refilled at `ratePerSecond`, full at the first call.
 * Deterministic and timer-free: state advances only through `take(nowMs)`. A clock that steps
 * backwards neither refills nor rewinds the bucket. One limiter per channel (or per campaign and
 * channel); it is the caller's state, not shared across processes.
 */
export function createRateLimiter(options: { ratePerSecond: number; burst: number }): TokenBucket {
  const { ratePerSecond, burst } = options;
  if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) throw new RangeError("ratePerSecond must be a positive number");
  if (!(Number.isFinite(burst) && burst >= 1)) throw new RangeError("burst must be at least 1");
  let tokens = burst;
  let last: number | null = null;
  return {
    take(nowMs, cost = 1) {
      if (last === null) last = nowMs;
      if (nowMs > last) {
        tokens = Math.min(burst, tokens + ((nowMs - last) * ratePerSecond) / SECOND);
        last = nowMs;
      }
      if (tokens >= cost - TOKEN_SLACK) {
        tokens = Math.max(0, tokens - cost);
        return { ok: true };
      }
      return { ok: false, retryAtMs: last + Math.max(1, Math.ceil(((cost - tokens) * SECOND) / ratePerSecond - WAIT_SLACK_MS)) };
    },
    available() {
      return Math.floor(tokens + TOKEN_SLACK);
    },
    giveBack() {
      tokens = Math.min(burst, tokens + 1);
    },
  };
}

/**
 * Several limits at once (the channel's and the campaign's): a message goes when every limiter
 * has a token. A limiter that granted one is given it back when a later one refuses, so a
 * refusal costs no capacity. Null when there is nothing to limit.
 */
export function allOf(...limiters: (RateLimiter | null | undefined)[]): RateLimiter | null {
  const active = limiters.filter((l): l is RateLimiter => !!l);
  if (active.length <= 1) return active[0] ?? null;
  return {
    take(nowMs) {
      for (let i = 0; i < active.length; i++) {
        const r = active[i]!.take(nowMs);
        if (!r.ok) {
          for (let j = 0; j < i; j++) active[j]!.giveBack?.(nowMs);
          return r;
        }
      }
      return { ok: true };
    },
    giveBack(nowMs) {
      for (const l of active) l.giveBack?.(nowMs);
    },
  };
}
