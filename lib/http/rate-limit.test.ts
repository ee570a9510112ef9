import { describe, expect, it } from "vitest";
import { TokenBuckets, retryAfterSeconds } from "./rate-limit";
import { clientIp } from "./client-ip";

describe("token buckets", () => {
  it("allows a burst, then one request per 1/rate seconds, with the wait until the next token", () => {
    const b = new TokenBuckets({ ratePerSecond: 2, burst: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => b.take("k", t0).ok)).toEqual([true, true, true]);
    expect(b.take("k", t0)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.take("k", t0 + 250)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(b.take("k", t0 + 500)).toEqual({ ok: true, remaining: 0 });
    expect(b.take("k", t0 + 500).ok).toBe(false);
    // A long pause refills to the burst, not beyond.
    expect(b.take("k", t0 + 60_000)).toEqual({ ok: true, remaining: 2 });
  });

  it("keeps keys apart and sustains exactly the configured rate", () => {
    const b = new TokenBuckets({ ratePerSecond: 10, burst: 10 });
    let allowed = 0;
    for (let ms = 0; ms < 10_000; ms += 5) if (b.take("busy", ms).ok) allowed++; // 200 req/s offered for 10 s
    expect(allowed).toBeGreaterThanOrEqual(10 + 99);
    expect(allowed).toBeLessThanOrEqual(10 + 100);
    expect(b.take("quiet", 10_000).ok).toBe(true);
  });

  it("never refills when the clock steps back, and charges a cost", () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 5 });
    expect(b.take("k", 10_000, 5).ok).toBe(true);
    expect(b.take("k", 5_000).ok).toBe(false);
    expect(b.take("k", 10_999).ok).toBe(false);
    expect(b.take("k", 11_000).ok).toBe(true);
    expect(b.take("k", 11_000, 3)).toEqual({ ok: false, retryAfterMs: 3_000 });
  });

  it("is off at rate 0", () => {
    const b = new TokenBuckets({ ratePerSecond: 0, burst: 1 });
    expect(b.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(b.take("k", 0).ok).toBe(true);
    expect(b.size).toBe(0);
  });

  it("bounds memory: the least recently used key goes first, and comes back full", () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 1 }, 3);
    b.take("a", 0);
    b.take("b", 0);
    b.take("c", 0);
    expect(b.take("a", 0).ok).toBe(false); // a is now the most recent
    b.take("d", 0); // evicts b
    expect(b.size).toBe(3);
    expect(b.take("a", 0).ok).toBe(false);
    expect(b.take("b", 0).ok).toBe(true); // forgotten, full again
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });

  it("rejects nonsense configuration", () => {
    expect(() => new TokenBuckets({ ratePerSecond: -1, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
  });
});

describe("client ip", () => {
  it("is the socket peer unless proxies are trusted", () => {
    expect(clientIp("10.0.0.5", "1.2.3.4", 0)).toBe("10.0.0.5");
    expect(clientIp("::ffff:127.0.0.1", undefined, 0)).toBe("127.0.0.1");
    expect(clientIp(undefined, undefined, 0)).toBe("unknown");
  });

  it("behind N trusted proxies, takes the Nth address from the right of X-Forwarded-For", () => {
    // The client forged the first entry; the trusted proxy appended the real one.
    expect(clientIp("10.0.0.1", "6.6.6.6, 203.0.113.9", 1)).toBe("203.0.113.9");
    expect(clientIp("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", 2)).toBe("203.0.113.9");
    expect(clientIp("10.0.0.1", ["203.0.113.9", "10.0.0.2"], 2)).toBe("203.0.113.9");
    expect(clientIp("10.0.0.1", "203.0.113.9", 3)).toBe("203.0.113.9");
    expect(clientIp("10.0.0.1", "not-an-ip<script>", 1)).toBe("10.0.0.1");
  });
});
