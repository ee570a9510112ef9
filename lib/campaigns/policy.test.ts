import { describe, expect, it } from "vitest";
import { formatPath } from "@/lib/errors";
import {
  campaignPolicySchema,
  classifyProviderError,
  createRateLimiter,
  decideSend,
  frequencyCapDecision,
  isValidTimeZone,
  quietHoursDecision,
  rateLimiterForPolicy,
  retryDelayMs,
  type CampaignPolicy,
  type QuietHours,
  type RateLimiter,
} from "./policy";

const at = (iso: string) => {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) throw new Error(`bad instant ${iso}`);
  return t;
};
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A deterministic generator, so the property tests below are reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("createRateLimiter", () => {
  it("allows a burst, then one token per 1/rate seconds", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 3 });
    const t0 = at("2024-05-01T12:00:00Z");
    expect([limiter.take(t0), limiter.take(t0), limiter.take(t0)]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(limiter.take(t0)).toEqual({ ok: false, retryAtMs: t0 + 1000 });
    expect(limiter.take(t0 + 999)).toEqual({ ok: false, retryAtMs: t0 + 1000 });
    expect(limiter.take(t0 + 1000)).toEqual({ ok: true });
    expect(limiter.take(t0 + 1000)).toEqual({ ok: false, retryAtMs: t0 + 2000 });
  });

  it("refills no further than the burst after a long idle time", () => {
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 2 });
    limiter.take(0);
    limiter.take(0);
    const later = 10 * HOUR;
    expect([limiter.take(later), limiter.take(later), limiter.take(later)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, retryAtMs: later + 100 },
    ]);
  });

  it("always accepts a caller that comes back exactly at retryAtMs, even with a fractional rate", () => {
    const limiter = createRateLimiter({ ratePerSecond: 3, burst: 1 });
    let now = 0;
    let sent = 0;
    while (now < 10_000) {
      const r = limiter.take(now);
      if (r.ok) sent++;
      else {
        expect(r.retryAtMs).toBeGreaterThan(now);
        const retry = limiter.take(r.retryAtMs);
        expect(retry).toEqual({ ok: true });
        sent++;
        now = r.retryAtMs;
      }
    }
    // 1 from the burst plus 3 a second for 10 seconds.
    expect(sent).toBeGreaterThanOrEqual(30);
    expect(sent).toBeLessThanOrEqual(31);
  });

  it("holds the long-run rate under constant pressure", () => {
    const limiter = createRateLimiter({ ratePerSecond: 50, burst: 5 });
    let sent = 0;
    for (let t = 0; t < 60_000; t++) if (limiter.take(t).ok) sent++;
    expect(sent).toBeGreaterThanOrEqual(50 * 60);
    expect(sent).toBeLessThanOrEqual(50 * 60 + 5);
  });

  it("neither refills nor rewinds when the clock steps backwards", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    expect(limiter.take(5000)).toEqual({ ok: true });
    expect(limiter.take(1000)).toEqual({ ok: false, retryAtMs: 6000 });
    expect(limiter.take(5999)).toEqual({ ok: false, retryAtMs: 6000 });
    expect(limiter.take(6000)).toEqual({ ok: true });
  });

  it.each([
    [{ ratePerSecond: 0, burst: 1 }],
    [{ ratePerSecond: -1, burst: 1 }],
    [{ ratePerSecond: Number.NaN, burst: 1 }],
    [{ ratePerSecond: 1, burst: 0 }],
    [{ ratePerSecond: 1, burst: 0.5 }],
  ])("refuses %j", (options) => {
    expect(() => createRateLimiter(options)).toThrow(RangeError);
  });

  it("rateLimiterForPolicy builds one second's burst, or none without a rate", () => {
    expect(rateLimiterForPolicy({})).toBeNull();
    const limiter = rateLimiterForPolicy({ rateLimitPerSecond: 4 })!;
    const results = Array.from({ length: 5 }, () => limiter.take(0).ok);
    expect(results).toEqual([true, true, true, true, false]);
    const slow = rateLimiterForPolicy({ rateLimitPerSecond: 1.5 })!;
    expect([slow.take(0).ok, slow.take(0).ok]).toEqual([true, false]);
  });
});

describe("frequencyCapDecision", () => {
  const now = at("2024-05-01T12:00:00Z");
  const cap = { maxMessages: 3, windowHours: 24 };

  it("allows while fewer than maxMessages lie in the window", () => {
    expect(frequencyCapDecision(cap, [], now)).toEqual({ allowed: true });
    expect(frequencyCapDecision(cap, [now - HOUR, now - 2 * HOUR], now)).toEqual({ allowed: true });
  });

  it("ignores sends that have left the window; the window's start is open", () => {
    expect(frequencyCapDecision(cap, [now - 24 * HOUR, now - 30 * HOUR, now - HOUR, now - 2 * HOUR], now)).toEqual({ allowed: true });
  });

  it("caps at maxMessages and says when the oldest counted send leaves", () => {
    expect(frequencyCapDecision(cap, [now - HOUR, now - 23 * HOUR, now - 10 * HOUR], now)).toEqual({
      allowed: false,
      reason: "frequency_cap",
      retryAtMs: now + HOUR,
    });
  });

  it("when over the cap, waits until enough sends have left for one more to fit", () => {
    const two = { maxMessages: 2, windowHours: 24 };
    const sends = [now - HOUR, now - 5 * HOUR, now - 3 * HOUR, now - 2 * HOUR];
    const decision = frequencyCapDecision(two, sends, now);
    expect(decision).toEqual({ allowed: false, reason: "frequency_cap", retryAtMs: now + 22 * HOUR });
    if (decision.allowed) throw new Error("unreachable");
    expect(frequencyCapDecision(two, sends, decision.retryAtMs - 1).allowed).toBe(false);
    expect(frequencyCapDecision(two, sends, decision.retryAtMs).allowed).toBe(true);
  });

  it("counts sends stamped in the future (clock skew) rather than ignoring them", () => {
    const one = { maxMessages: 1, windowHours: 1 };
    expect(frequencyCapDecision(one, [now + 5 * MINUTE], now)).toEqual({ allowed: false, reason: "frequency_cap", retryAtMs: now + 65 * MINUTE });
  });

  it("does not mutate the caller's array", () => {
    const sends = [now - HOUR, now - 3 * HOUR, now - 2 * HOUR];
    frequencyCapDecision(cap, sends, now);
    expect(sends).toEqual([now - HOUR, now - 3 * HOUR, now - 2 * HOUR]);
  });
});

describe("quietHoursDecision", () => {
  const night: QuietHours = { start: "22:00", end: "08:00", mode: "defer" };

  describe("in UTC", () => {
    it.each([
      ["2024-01-15T21:59:59.999Z", null],
      ["2024-01-15T22:00:00.000Z", "2024-01-16T08:00:00.000Z"],
      ["2024-01-15T23:30:00.000Z", "2024-01-16T08:00:00.000Z"],
      ["2024-01-16T00:00:00.000Z", "2024-01-16T08:00:00.000Z"],
      ["2024-01-16T03:00:00.000Z", "2024-01-16T08:00:00.000Z"],
      ["2024-01-16T07:59:59.999Z", "2024-01-16T08:00:00.000Z"],
      ["2024-01-16T08:00:00.000Z", null],
      ["2024-01-16T12:00:00.000Z", null],
    ])("across midnight, at %s defers until %s", (now, until) => {
      const d = quietHoursDecision(night, "UTC", at(now));
      expect(d).toEqual(until === null ? { action: "send" } : { action: "defer", untilMs: at(until) });
    });

    it.each([
      ["2024-01-15T11:59:59.999Z", null],
      ["2024-01-15T12:00:00.000Z", "2024-01-15T13:00:00.000Z"],
      ["2024-01-15T12:59:00.000Z", "2024-01-15T13:00:00.000Z"],
      ["2024-01-15T13:00:00.000Z", null],
      ["2024-01-15T23:00:00.000Z", null],
    ])("within a day (12:00–13:00), at %s defers until %s", (now, until) => {
      const d = quietHoursDecision({ start: "12:00", end: "13:00", mode: "defer" }, "UTC", at(now));
      expect(d).toEqual(until === null ? { action: "send" } : { action: "defer", untilMs: at(until) });
    });

    it("handles windows that end or start at midnight", () => {
      expect(quietHoursDecision({ start: "22:00", end: "00:00", mode: "defer" }, "UTC", at("2024-01-15T23:00:00Z"))).toEqual({
        action: "defer",
        untilMs: at("2024-01-16T00:00:00Z"),
      });
      expect(quietHoursDecision({ start: "22:00", end: "00:00", mode: "defer" }, "UTC", at("2024-01-16T00:00:00Z"))).toEqual({ action: "send" });
      expect(quietHoursDecision({ start: "00:00", end: "06:00", mode: "defer" }, "UTC", at("2024-01-16T00:00:00Z"))).toEqual({
        action: "defer",
        untilMs: at("2024-01-16T06:00:00Z"),
      });
    });

    it("start == end means no quiet hours at any time of day", () => {
      for (let m = 0; m < 24 * 60; m += 7) {
        expect(quietHoursDecision({ start: "22:00", end: "22:00", mode: "skip" }, "UTC", at("2024-01-15T00:00:00Z") + m * MINUTE)).toEqual({
          action: "send",
        });
      }
    });

    it("skips instead of deferring in skip mode", () => {
      expect(quietHoursDecision({ ...night, mode: "skip" }, "UTC", at("2024-01-15T23:00:00Z"))).toEqual({ action: "skip", reason: "quiet_hours" });
      expect(quietHoursDecision({ ...night, mode: "skip" }, "UTC", at("2024-01-15T12:00:00Z"))).toEqual({ action: "send" });
    });

    it("refuses a malformed time", () => {
      expect(() => quietHoursDecision({ start: "7:00", end: "08:00", mode: "defer" }, "UTC", 0)).toThrow(RangeError);
      expect(() => quietHoursDecision({ start: "22:00", end: "24:00", mode: "defer" }, "UTC", 0)).toThrow(RangeError);
    });
  });

  describe("Europe/Berlin across DST", () => {
    const berlin = "Europe/Berlin";
    it.each([
      // Spring forward: Sunday 2024-03-31, 02:00 CET → 03:00 CEST (01:00Z). The night is 9 hours.
      ["2024-03-30T21:00:00Z", "2024-03-31T06:00:00Z"], // 22:00 CET → 08:00 CEST
      ["2024-03-30T22:30:00Z", "2024-03-31T06:00:00Z"],
      ["2024-03-31T00:30:00Z", "2024-03-31T06:00:00Z"], // 01:30 CET, just before the jump
      ["2024-03-31T01:00:00Z", "2024-03-31T06:00:00Z"], // 03:00 CEST, just after
      ["2024-03-31T05:59:59Z", "2024-03-31T06:00:00Z"],
      // Fall back: Sunday 2024-10-27, 03:00 CEST → 02:00 CET (01:00Z). The night is 11 hours.
      ["2024-10-26T20:00:00Z", "2024-10-27T07:00:00Z"], // 22:00 CEST → 08:00 CET
      ["2024-10-27T00:30:00Z", "2024-10-27T07:00:00Z"], // 02:30 CEST, first pass
      ["2024-10-27T01:30:00Z", "2024-10-27T07:00:00Z"], // 02:30 CET, second pass
      // An ordinary winter and summer night.
      ["2024-01-15T21:00:00Z", "2024-01-16T07:00:00Z"],
      ["2024-07-15T20:00:00Z", "2024-07-16T06:00:00Z"],
    ])("22:00–08:00 at %s defers until %s", (now, until) => {
      expect(quietHoursDecision(night, berlin, at(now))).toEqual({ action: "defer", untilMs: at(until) });
    });

    it("sends just outside the window on both DST days", () => {
      expect(quietHoursDecision(night, berlin, at("2024-03-30T20:59:59Z")).action).toBe("send"); // 21:59:59 CET
      expect(quietHoursDecision(night, berlin, at("2024-03-31T06:00:00Z")).action).toBe("send"); // 08:00 CEST
      expect(quietHoursDecision(night, berlin, at("2024-10-26T19:59:59Z")).action).toBe("send"); // 21:59:59 CEST
      expect(quietHoursDecision(night, berlin, at("2024-10-27T07:00:00Z")).action).toBe("send"); // 08:00 CET
    });

    it("ends a window whose end falls in the spring-forward gap when the clock jumps past it", () => {
      const q: QuietHours = { start: "01:00", end: "02:30", mode: "defer" };
      // 01:30 CET; 02:30 never happens that night, the clock reads 03:00 at 01:00Z.
      expect(quietHoursDecision(q, berlin, at("2024-03-31T00:30:00Z"))).toEqual({ action: "defer", untilMs: at("2024-03-31T01:00:00Z") });
      const toTwo: QuietHours = { start: "22:00", end: "02:00", mode: "defer" };
      expect(quietHoursDecision(toTwo, berlin, at("2024-03-30T23:00:00Z"))).toEqual({ action: "defer", untilMs: at("2024-03-31T01:00:00Z") });
    });

    it("has no quiet time on the spring-forward night when the whole window falls in the gap", () => {
      const q: QuietHours = { start: "02:00", end: "02:30", mode: "skip" };
      expect(quietHoursDecision(q, berlin, at("2024-03-31T00:59:59Z")).action).toBe("send"); // 01:59:59 CET
      expect(quietHoursDecision(q, berlin, at("2024-03-31T01:00:00Z")).action).toBe("send"); // 03:00 CEST
      expect(quietHoursDecision(q, berlin, at("2024-03-30T01:10:00Z")).action).toBe("skip"); // 02:10 CET the day before
    });

    it("follows the wall clock through the repeated hour of the fall-back night", () => {
      const q: QuietHours = { start: "01:00", end: "02:30", mode: "defer" };
      // 01:30 CEST → the first 02:30 (CEST).
      expect(quietHoursDecision(q, berlin, at("2024-10-26T23:30:00Z"))).toEqual({ action: "defer", untilMs: at("2024-10-27T00:30:00Z") });
      // 02:10 CEST → the first 02:30.
      expect(quietHoursDecision(q, berlin, at("2024-10-27T00:10:00Z"))).toEqual({ action: "defer", untilMs: at("2024-10-27T00:30:00Z") });
      // 02:45 CEST: outside the window.
      expect(quietHoursDecision(q, berlin, at("2024-10-27T00:45:00Z"))).toEqual({ action: "send" });
      // 02:10 CET, the clock has gone back into the window: the second 02:30 (CET), never a past instant.
      expect(quietHoursDecision(q, berlin, at("2024-10-27T01:10:00Z"))).toEqual({ action: "defer", untilMs: at("2024-10-27T01:30:00Z") });
    });
  });

  describe("America/New_York across DST", () => {
    const ny = "America/New_York";
    const evening: QuietHours = { start: "21:00", end: "09:00", mode: "defer" };
    it.each([
      ["2024-03-10T02:00:00Z", "2024-03-10T13:00:00Z"], // 21:00 EST Sat → 09:00 EDT Sun (11 h)
      ["2024-03-10T06:59:59Z", "2024-03-10T13:00:00Z"], // 01:59:59 EST, before the jump
      ["2024-11-03T01:00:00Z", "2024-11-03T14:00:00Z"], // 21:00 EDT Sat → 09:00 EST Sun (13 h)
      ["2024-11-03T05:30:00Z", "2024-11-03T14:00:00Z"], // 01:30 EDT, first pass
      ["2024-11-03T06:30:00Z", "2024-11-03T14:00:00Z"], // 01:30 EST, second pass
      ["2024-07-01T05:00:00Z", "2024-07-01T13:00:00Z"], // 01:00 EDT
    ])("21:00–09:00 at %s defers until %s", (now, until) => {
      expect(quietHoursDecision(evening, ny, at(now))).toEqual({ action: "defer", untilMs: at(until) });
    });

    it("sends at 09:00 local, not 09:00 of the other offset", () => {
      expect(quietHoursDecision(evening, ny, at("2024-03-10T13:00:00Z")).action).toBe("send");
      expect(quietHoursDecision(evening, ny, at("2024-03-10T12:59:59Z")).action).toBe("defer");
      expect(quietHoursDecision(evening, ny, at("2024-11-03T13:30:00Z")).action).toBe("defer"); // 08:30 EST
    });
  });

  describe("Asia/Kolkata (UTC+05:30)", () => {
    it.each([
      ["2024-06-01T16:29:59Z", null], // 21:59:59 IST
      ["2024-06-01T16:30:00Z", "2024-06-02T02:30:00Z"], // 22:00 IST
      ["2024-06-01T20:00:00Z", "2024-06-02T02:30:00Z"], // 01:30 IST
      ["2024-06-02T02:29:00Z", "2024-06-02T02:30:00Z"], // 07:59 IST
      ["2024-06-02T02:30:00Z", null], // 08:00 IST
    ])("22:00–08:00 at %s defers until %s", (now, until) => {
      const d = quietHoursDecision(night, "Asia/Kolkata", at(now));
      expect(d).toEqual(until === null ? { action: "send" } : { action: "defer", untilMs: at(until) });
    });
  });

  describe("zone fallback", () => {
    it.each([null, undefined, "", "Mars/Olympus", "not a zone", "+05:30"])("uses the default zone for %j", (zone) => {
      expect(quietHoursDecision(night, zone, at("2024-01-15T23:00:00Z"))).toEqual({ action: "defer", untilMs: at("2024-01-16T08:00:00Z") });
      // With Tokyo (UTC+9) as the default, 14:00Z is 23:00 local.
      expect(quietHoursDecision(night, zone, at("2024-01-15T14:00:00Z"), "Asia/Tokyo")).toEqual({
        action: "defer",
        untilMs: at("2024-01-15T23:00:00Z"),
      });
    });

    it("prefers a valid user zone over the default", () => {
      expect(quietHoursDecision(night, "Asia/Kolkata", at("2024-06-01T16:30:00Z"), "Asia/Tokyo")).toEqual({
        action: "defer",
        untilMs: at("2024-06-02T02:30:00Z"),
      });
    });

    it("throws when the default zone itself is invalid (a configuration error)", () => {
      expect(() => quietHoursDecision(night, null, 0, "Nowhere/Special")).toThrow(RangeError);
    });

    it("isValidTimeZone agrees with Intl", () => {
      expect(isValidTimeZone("Europe/Berlin")).toBe(true);
      expect(isValidTimeZone("europe/berlin")).toBe(true);
      expect(isValidTimeZone("Mars/Olympus")).toBe(false);
      expect(isValidTimeZone("")).toBe(false);
    });
  });

  describe("against a minute-by-minute oracle", () => {
    // An independent reading of the local clock, and a search that walks forward a minute at a
    // time: slow, obviously right, and blind to how quietHoursDecision finds the instant.
    const clocks = new Map<string, Intl.DateTimeFormat>();
    const localMinutes = (t: number, zone: string) => {
      let f = clocks.get(zone);
      if (!f) {
        f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
        clocks.set(zone, f);
      }
      const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
      return (Number(p.hour) % 24) * 60 + Number(p.minute);
    };
    const isQuiet = (q: QuietHours, t: number, zone: string) => {
      const [s, e, m] = [q.start, q.end, "x"].map((v, i) => (i < 2 ? Number(v.slice(0, 2)) * 60 + Number(v.slice(3)) : localMinutes(t, zone)));
      return s! < e! ? m! >= s! && m! < e! : m! >= s! || m! < e!;
    };
    const oracleUntil = (q: QuietHours, now: number, zone: string) => {
      // Every zone used here has whole-minute offsets, so local minutes change on UTC minutes.
      for (let t = Math.floor(now / MINUTE) * MINUTE + MINUTE; t < now + 3 * 24 * HOUR; t += MINUTE) {
        if (!isQuiet(q, t, zone)) return t;
      }
      throw new Error("no end found");
    };

    const zones = [
      "Europe/Berlin",
      "America/New_York",
      "Asia/Kolkata",
      "Asia/Kathmandu", // UTC+05:45
      "Australia/Lord_Howe", // a 30-minute DST shift
      "America/Sao_Paulo", // (until 2019) DST changes at midnight
      "Pacific/Chatham", // UTC+12:45 / +13:45
      "America/St_Johns", // UTC−03:30 with DST
    ];
    const windows: QuietHours[] = [
      { start: "22:00", end: "08:00", mode: "defer" },
      { start: "00:00", end: "00:30", mode: "defer" },
      { start: "01:30", end: "02:30", mode: "defer" },
      { start: "02:15", end: "03:00", mode: "defer" },
      { start: "23:30", end: "02:00", mode: "defer" },
      { start: "12:00", end: "13:00", mode: "defer" },
    ];
    // Instants around every 2018 and 2024 transition of these zones, plus ordinary days.
    const days = [
      ...["2018-02-17", "2018-11-03", "2018-11-04"], // Sao Paulo
      ...["2024-03-10", "2024-11-03", "2024-03-31", "2024-10-27"], // New York, St John's; Berlin
      ...["2024-04-06", "2024-04-07", "2024-09-29", "2024-10-06"], // Chatham, Lord Howe
      "2024-06-15",
    ];

    it("agrees on every zone, window and sampled instant", () => {
      const random = lcg(42);
      let checked = 0;
      for (const zone of zones) {
        for (const q of windows) {
          for (const day of days) {
            const base = at(`${day}T00:00:00Z`) - 14 * HOUR;
            for (let i = 0; i < 6; i++) {
              const now = base + Math.floor(random() * 40 * HOUR);
              const d = quietHoursDecision(q, zone, now);
              const quiet = isQuiet(q, now, zone);
              if (!quiet) {
                expect(d, `${zone} ${q.start}-${q.end} ${iso(now)}`).toEqual({ action: "send" });
                continue;
              }
              const expected = oracleUntil(q, now, zone);
              expect(d, `${zone} ${q.start}-${q.end} ${iso(now)}`).toEqual({ action: "defer", untilMs: expected });
              checked++;
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(100);
    });
  });
});

describe("retryDelayMs", () => {
  const opts = { baseMs: 100, maxMs: 10_000 };

  it("is uniform in [0, base·2^(attempt−1)) given the random draw", () => {
    expect(retryDelayMs(1, opts, () => 0)).toBe(0);
    expect(retryDelayMs(1, opts, () => 0.5)).toBe(50);
    expect(retryDelayMs(2, opts, () => 0.5)).toBe(100);
    expect(retryDelayMs(3, opts, () => 0.5)).toBe(200);
    expect(retryDelayMs(3, opts, () => 0.999_999)).toBe(399);
  });

  it("caps at maxMs and never overflows for large attempts", () => {
    expect(retryDelayMs(8, opts, () => 0.5)).toBe(5000);
    expect(retryDelayMs(1000, opts, () => 0.5)).toBe(5000);
    expect(retryDelayMs(1000, opts, () => 0.999_999_9)).toBeLessThan(10_000);
  });

  it("clamps a misbehaving random source", () => {
    expect(retryDelayMs(1, opts, () => 1)).toBe(99);
    expect(retryDelayMs(1, opts, () => -3)).toBe(0);
    expect(retryDelayMs(1, opts, () => Number.NaN)).toBe(0);
  });

  it("is deterministic for a seeded source and stays in range", () => {
    const a = Array.from({ length: 20 }, (_, i) => retryDelayMs(i + 1, opts, lcg(7)));
    const b = Array.from({ length: 20 }, (_, i) => retryDelayMs(i + 1, opts, lcg(7)));
    expect(a).toEqual(b);
    a.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(10_000, 100 * 2 ** i));
      expect(Number.isInteger(d)).toBe(true);
    });
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses attempt %s", (attempt) => {
    expect(() => retryDelayMs(attempt, opts, () => 0.5)).toThrow(RangeError);
  });

  it("refuses inconsistent bounds", () => {
    expect(() => retryDelayMs(1, { baseMs: 0, maxMs: 10 }, () => 0.5)).toThrow(RangeError);
    expect(() => retryDelayMs(1, { baseMs: 100, maxMs: 10 }, () => 0.5)).toThrow(RangeError);
  });
});

describe("classifyProviderError", () => {
  it.each([500, 502, 503, 504, 599, 408, 429])("HTTP %i is transient", (status) => {
    expect(classifyProviderError({ status })).toBe("transient");
  });

  it.each([400, 401, 403, 404, 410, 413, 422])("HTTP %i is permanent", (status) => {
    expect(classifyProviderError({ status })).toBe("permanent");
  });

  it.each(["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN", "EPIPE", "econnreset"])("network code %s is transient", (code) => {
    expect(classifyProviderError({ code })).toBe("transient");
  });

  it.each([421, "450", 451, 452, "4.2.2", "4.7.0"])("SMTP %s is transient", (code) => {
    expect(classifyProviderError({ code })).toBe("transient");
  });

  it.each([550, "550", 551, 552, 553, 554, "5.1.1", "5.7.1"])("SMTP %s is permanent", (code) => {
    expect(classifyProviderError({ code })).toBe("permanent");
  });

  it("reads HTTP 4xx and SMTP 4xx oppositely, by field", () => {
    expect(classifyProviderError({ status: 450 })).toBe("permanent");
    expect(classifyProviderError({ code: 450 })).toBe("transient");
  });

  it("lets the HTTP status decide when it is an error status, and the code otherwise", () => {
    expect(classifyProviderError({ status: 503, code: 550 })).toBe("transient");
    expect(classifyProviderError({ status: 200, code: 550 })).toBe("permanent");
  });

  it("calls unknown failures transient (retries are bounded)", () => {
    expect(classifyProviderError({})).toBe("transient");
    expect(classifyProviderError({ status: null, code: null })).toBe("transient");
    expect(classifyProviderError({ code: "ESOMETHING" })).toBe("transient");
  });
});

describe("campaignPolicySchema", () => {
  function issues(input: unknown) {
    const r = campaignPolicySchema.safeParse(input);
    if (r.success) throw new Error("expected failure");
    return r.error.issues.map((i) => ({ field: formatPath(i.path), message: i.message }));
  }

  it("accepts an empty policy and a full one", () => {
    expect(campaignPolicySchema.parse({})).toEqual({});
    const full = {
      rateLimitPerSecond: 2.5,
      frequencyCap: { maxMessages: 3, windowHours: 24 },
      quietHours: { start: "22:00", end: "08:00", mode: "defer" },
    };
    expect(campaignPolicySchema.parse(full)).toEqual(full);
  });

  it.each([
    [{ rateLimitPerSecond: 0 }, "rateLimitPerSecond", "must be at least 1"],
    [{ rateLimitPerSecond: 10_001 }, "rateLimitPerSecond", "must be at most 10000"],
    [{ rateLimitPerSecond: "5" }, "rateLimitPerSecond", "must be a number"],
    [{ frequencyCap: { maxMessages: 0, windowHours: 1 } }, "frequencyCap.maxMessages", "must be at least 1"],
    [{ frequencyCap: { maxMessages: 1001, windowHours: 1 } }, "frequencyCap.maxMessages", "must be at most 1000"],
    [{ frequencyCap: { maxMessages: 1.5, windowHours: 1 } }, "frequencyCap.maxMessages", "must be a whole number"],
    [{ frequencyCap: { maxMessages: 1, windowHours: 0 } }, "frequencyCap.windowHours", "must be at least 1"],
    [{ frequencyCap: { maxMessages: 1, windowHours: 721 } }, "frequencyCap.windowHours", "must be at most 720"],
    [{ frequencyCap: { maxMessages: 1, windowHours: 2.5 } }, "frequencyCap.windowHours", "must be a whole number of hours"],
    [{ frequencyCap: { maxMessages: 1 } }, "frequencyCap.windowHours", "is required"],
    [{ frequencyCap: { maxMessages: 1, windowHours: 1, per: "day" } }, "frequencyCap", "per"],
    [{ quietHours: { start: "24:00", end: "08:00", mode: "defer" } }, "quietHours.start", "must be a 24-hour time like 22:00 (HH:MM)"],
    [{ quietHours: { start: "7:00", end: "08:00", mode: "defer" } }, "quietHours.start", "HH:MM"],
    [{ quietHours: { start: "22:00", end: "08:00:00", mode: "defer" } }, "quietHours.end", "HH:MM"],
    [{ quietHours: { start: "22:00", end: "08:60", mode: "defer" } }, "quietHours.end", "HH:MM"],
    [{ quietHours: { start: "22:00", end: "08:00", mode: "later" } }, "quietHours.mode", "must be one of defer, skip"],
    [{ quietHours: { start: "22:00", end: "08:00" } }, "quietHours.mode", "is required"],
    [{ quietHours: { start: "22:00", end: "22:00", mode: "skip" } }, "quietHours.end", "must differ from start"],
    [{ throttle: 5 }, "", "throttle"],
    [{ quietHours: "22-08" }, "quietHours", "must be an object"],
    [{ frequencyCap: 3 }, "frequencyCap", "must be an object"],
  ])("refuses %j at %s", (input, field, message) => {
    const found = issues(input);
    expect(found.map((i) => i.field)).toContain(field);
    expect(found.find((i) => i.field === field)!.message).toContain(message);
  });

  it.each([null, [], "fast", 3])("refuses a non-object %j", (input) => {
    expect(issues(input)).toEqual([{ field: "", message: "must be an object" }]);
  });
});

describe("decideSend", () => {
  const winterNight = at("2024-01-15T23:00:00Z"); // 00:00 in Berlin
  const winterNoon = at("2024-01-15T12:00:00Z");
  const quiet: CampaignPolicy = { quietHours: { start: "22:00", end: "08:00", mode: "defer" } };
  const base = { channelLimiter: null, recentSendsMs: [], timeZone: "Europe/Berlin" };

  /** A limiter that records how often it was asked. */
  function counting(limiter: RateLimiter): RateLimiter & { calls: number } {
    const wrapped = {
      calls: 0,
      take(now: number) {
        wrapped.calls++;
        return limiter.take(now);
      },
    };
    return wrapped;
  }

  it("sends when the policy is empty", () => {
    expect(decideSend({ ...base, policy: {}, nowMs: winterNight })).toEqual({ action: "send" });
  });

  it("defers for quiet hours in the user's zone, without taking a token", () => {
    const limiter = counting(createRateLimiter({ ratePerSecond: 1, burst: 1 }));
    expect(decideSend({ ...base, policy: quiet, channelLimiter: limiter, nowMs: winterNight })).toEqual({
      action: "defer",
      untilMs: at("2024-01-16T07:00:00Z"),
      reason: "quiet_hours",
    });
    expect(limiter.calls).toBe(0);
    expect(decideSend({ ...base, policy: quiet, channelLimiter: limiter, nowMs: winterNoon })).toEqual({ action: "send" });
  });

  it("skips for quiet hours in skip mode", () => {
    const policy: CampaignPolicy = { quietHours: { start: "22:00", end: "08:00", mode: "skip" } };
    expect(decideSend({ ...base, policy, nowMs: winterNight })).toEqual({ action: "skip", reason: "quiet_hours" });
  });

  it("uses the default zone when the user's is unknown", () => {
    // 23:00Z is quiet in UTC, but 14:00Z is not quiet in UTC and is 23:00 in Tokyo.
    expect(decideSend({ ...base, timeZone: "Bogus/Zone", policy: quiet, nowMs: at("2024-01-15T14:00:00Z") })).toEqual({ action: "send" });
    expect(decideSend({ ...base, timeZone: null, policy: quiet, nowMs: at("2024-01-15T14:00:00Z"), defaultTimeZone: "Asia/Tokyo" })).toEqual({
      action: "defer",
      untilMs: at("2024-01-15T23:00:00Z"),
      reason: "quiet_hours",
    });
  });

  it("skips a frequency-capped send without taking a token", () => {
    const limiter = counting(createRateLimiter({ ratePerSecond: 1, burst: 1 }));
    const policy: CampaignPolicy = { frequencyCap: { maxMessages: 2, windowHours: 24 } };
    const recentSendsMs = [winterNoon - HOUR, winterNoon - 2 * HOUR];
    expect(decideSend({ ...base, policy, channelLimiter: limiter, recentSendsMs, nowMs: winterNoon })).toEqual({ action: "skip", reason: "frequency_cap" });
    expect(limiter.calls).toBe(0);
    expect(decideSend({ ...base, policy, channelLimiter: limiter, recentSendsMs: recentSendsMs.slice(1), nowMs: winterNoon })).toEqual({ action: "send" });
    expect(limiter.calls).toBe(1);
  });

  it("defers on the rate limit until a token is due", () => {
    const limiter = createRateLimiter({ ratePerSecond: 2, burst: 1 });
    const ctx = { ...base, policy: {}, channelLimiter: limiter, nowMs: winterNoon };
    expect(decideSend(ctx)).toEqual({ action: "send" });
    expect(decideSend(ctx)).toEqual({ action: "defer", untilMs: winterNoon + 500, reason: "rate_limit" });
    expect(decideSend({ ...ctx, nowMs: winterNoon + 500 })).toEqual({ action: "send" });
  });

  it("applies quiet hours before the frequency cap, and the cap before the rate limit", () => {
    const policy: CampaignPolicy = { ...quiet, frequencyCap: { maxMessages: 1, windowHours: 1 } };
    const drained = (now: number) => {
      const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
      limiter.take(now);
      return limiter;
    };
    // Quiet, capped and out of tokens: quiet hours speak first.
    expect(decideSend({ ...base, policy, channelLimiter: drained(winterNight), recentSendsMs: [winterNight - MINUTE], nowMs: winterNight })).toEqual({
      action: "defer",
      untilMs: at("2024-01-16T07:00:00Z"),
      reason: "quiet_hours",
    });
    // Not quiet, capped and out of tokens: the cap.
    expect(decideSend({ ...base, policy, channelLimiter: drained(winterNoon), recentSendsMs: [winterNoon - MINUTE], nowMs: winterNoon })).toEqual({
      action: "skip",
      reason: "frequency_cap",
    });
    // Only out of tokens: the rate limit.
    expect(decideSend({ ...base, policy, channelLimiter: drained(winterNoon), recentSendsMs: [], nowMs: winterNoon })).toEqual({
      action: "defer",
      untilMs: winterNoon + 1000,
      reason: "rate_limit",
    });
  });
});

describe("allOf: several rate limits at once", () => {
  it("sends when every limiter has a token and gives back what a refusal did not use", async () => {
    const { allOf, createRateLimiter } = await import("./policy");
    const channel = createRateLimiter({ ratePerSecond: 2, burst: 2 });
    const campaign = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    const both = allOf(channel, campaign)!;
    expect(both.take(0)).toEqual({ ok: true });
    // The campaign's bucket is empty: refused, and the channel keeps its second token.
    expect(both.take(0)).toEqual({ ok: false, retryAtMs: 1000 });
    expect(channel.take(0)).toEqual({ ok: true });
    expect(channel.take(0).ok).toBe(false);
    expect(allOf(null, undefined)).toBeNull();
    expect(allOf(channel, null)).toBe(channel);
  });
});
