import { createRateLimiter, type RateLimiter } from "@/lib/limits/token-bucket";
import { z } from "zod";
import { assertNever } from "@/lib/segments/expression";

/**
 * Send policy: whether a message may go out now, later, or not at all. Rate limits, frequency
 * caps, quiet hours in the user's time zone, retry backoff and provider error classification.
 * Pure: no I/O, no timers; time is always a parameter (epoch milliseconds).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// Schema

/** "must be an object" for a wrong type; zod's own message (naming the key) for an unknown key. */
export const objectError = (issue: { code?: string }) => (issue.code === "invalid_type" ? "must be an object" : undefined);

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const timeOfDay = z
  .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
  .regex(HH_MM, { message: "must be a 24-hour time like 22:00 (HH:MM)" });

const wholeNumber = (min: number, max: number, unit: string) =>
  z
    .number({ error: (i) => (i.input === undefined ? "is required" : "must be a number") })
    .int({ message: `must be a whole number${unit}` })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

export const MAX_RATE_PER_SECOND = 10_000;
export const MAX_CAP_MESSAGES = 1000;
/** 30 days. */
export const MAX_CAP_WINDOW_HOURS = 720;

export const quietHoursSchema = z
  .object(
    {
      start: timeOfDay,
      end: timeOfDay,
      mode: z.enum(["defer", "skip"], { error: (i) => (i.input === undefined ? "is required" : "must be one of defer, skip") }),
    },
    { error: objectError },
  )
  .strict()
  .superRefine((q, ctx) => {
    // quietHoursDecision reads start == end as "never quiet"; an author who typed it more likely
    // meant something else, so the API asks rather than silently disabling the window.
    if (q.start === q.end) {
      ctx.addIssue({ code: "custom", path: ["end"], message: "must differ from start (leave quietHours out for no quiet hours)" });
    }
  });
export type QuietHours = z.output<typeof quietHoursSchema>;

export const frequencyCapSchema = z
  .object(
    {
      maxMessages: wholeNumber(1, MAX_CAP_MESSAGES, ""),
      windowHours: wholeNumber(1, MAX_CAP_WINDOW_HOURS, " of hours"),
    },
    { error: objectError },
  )
  .strict();
export type FrequencyCap = z.output<typeof frequencyCapSchema>;

/** A campaign's policy settings; every part is optional and `{}` means "send whenever". */
export const campaignPolicySchema = z
  .object(
    {
      rateLimitPerSecond: z
        .number({ error: "must be a number" })
        .min(1, { message: "must be at least 1" })
        .max(MAX_RATE_PER_SECOND, { message: `must be at most ${MAX_RATE_PER_SECOND}` })
        .optional(),
      frequencyCap: frequencyCapSchema.optional(),
      quietHours: quietHoursSchema.optional(),
    },
    { error: objectError },
  )
  .strict();
export type CampaignPolicy = z.output<typeof campaignPolicySchema>;

// ---------------------------------------------------------------------------------------------
// Rate limit

// The token bucket itself is shared with the REST API's limits (lib/limits/token-bucket.ts).
export { allOf, createRateLimiter, type RateDecision, type RateLimiter } from "@/lib/limits/token-bucket";

/**
 * The limiter for a campaign's `rateLimitPerSecond`, or null when it sets none. The burst is one
 * second's worth (at least 1): an idle campaign may start with that many at once, then settles
 * to the rate.
 */
export function rateLimiterForPolicy(policy: CampaignPolicy): RateLimiter | null {
  if (policy.rateLimitPerSecond === undefined) return null;
  return createRateLimiter({ ratePerSecond: policy.rateLimitPerSecond, burst: Math.max(1, Math.floor(policy.rateLimitPerSecond)) });
}

// ---------------------------------------------------------------------------------------------
// Frequency cap

export type FrequencyCapDecision = { allowed: true } | { allowed: false; reason: "frequency_cap"; retryAtMs: number };

/**
 * At most `maxMessages` sends to a user in any `windowHours`. A send counts while it lies in
 * `(now − window, now]`; sends stamped in the future (clock skew between processes) count too,
 * so skew can only make the cap stricter. When capped, `retryAtMs` is the instant enough of the
 * oldest counted sends have left the window for one more to fit.
 */
export function frequencyCapDecision(cap: FrequencyCap, sentTimestampsMs: readonly number[], nowMs: number): FrequencyCapDecision {
  const windowMs = cap.windowHours * HOUR;
  const counted = sentTimestampsMs.filter((t) => t > nowMs - windowMs).sort((a, b) => a - b);
  if (counted.length < cap.maxMessages) return { allowed: true };
  // With n counted and room for max, the (n − max + 1) oldest must leave; the last of those
  // leaves at its time + window (the window is open at its start).
  return { allowed: false, reason: "frequency_cap", retryAtMs: counted[counted.length - cap.maxMessages]! + windowMs };
}

// ---------------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * A formatter for the zone, or null when Intl does not know it. Only valid zones are cached
 * (a bounded set); an invalid one is rebuilt and refused on each call, which is rare.
 */
function zoneFormatter(timeZone: string): Intl.DateTimeFormat | null {
  const cached = formatters.get(timeZone);
  if (cached) return cached;
  try {
    const f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
    return f;
  } catch {
    return null;
  }
}

/** True when Intl knows the IANA zone (case-insensitively, as Intl does). */
export function isValidTimeZone(timeZone: string): boolean {
  return zoneFormatter(timeZone) !== null;
}

/**
 * The wall-clock reading in the zone at `t`, as if that reading were a UTC instant (epoch ms).
 * wall − t is the zone's offset at t.
 */
function wallMs(t: number, f: Intl.DateTimeFormat): number {
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(t)) p[part.type] = part.value;
  const hour = Number(p.hour) % 24; // some engines say 24 for midnight even with h23
  const secondStart = Math.floor(t / SECOND) * SECOND;
  const wallSecond = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), hour, Number(p.minute), Number(p.second));
  return wallSecond + (t - secondStart);
}

/**
 * The first instant after `afterMs` at which the zone's wall clock reads `targetWall` or later.
 * Usually exactly one instant reads `targetWall`. In a fall-back overlap two do, and the earlier
 * one still after `afterMs` wins. In a spring-forward gap none does, and the answer is the
 * instant the clock jumps past it (wall 02:30 on a day that skips 02:00–03:00 → the jump to 03:00).
 */
function firstInstantAtWall(targetWall: number, afterMs: number, f: Intl.DateTimeFormat): number {
  // Offset transitions are months apart, so the offsets a day either side are the only two that
  // can apply to this wall time.
  const offsetBefore = wallMs(targetWall - DAY, f) - (targetWall - DAY);
  const offsetAfter = wallMs(targetWall + DAY, f) - (targetWall + DAY);
  const candidates = [targetWall - offsetBefore, targetWall - offsetAfter]
    .filter((t) => t > afterMs && wallMs(t, f) === targetWall)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;

  // A gap: binary search for the jump, keeping wall(lo) < target <= wall(hi).
  let lo = Math.max(afterMs, Math.min(targetWall - offsetBefore, targetWall - offsetAfter));
  let hi = Math.max(targetWall - offsetBefore, targetWall - offsetAfter);
  if (wallMs(hi, f) < targetWall || hi <= afterMs) {
    // Not a shape the two-offset reasoning covers (an unusual zone history): fall back to the
    // standard-offset reading rather than loop.
    return Math.max(afterMs + 1, targetWall - offsetAfter);
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallMs(mid, f) >= targetWall) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------
// Quiet hours

export type QuietHoursDecision = { action: "send" } | { action: "defer"; untilMs: number } | { action: "skip"; reason: "quiet_hours" };

function minutesOf(time: string): number {
  const m = HH_MM.exec(time);
  if (!m) throw new RangeError(`not a 24-hour HH:MM time: ${JSON.stringify(time)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * Quiet hours `[start, end)` on the user's local wall clock; `start > end` crosses midnight
 * (22:00–08:00), `start == end` means none. The user's zone is used when Intl knows it,
 * otherwise `defaultTimeZone` (which must be valid: it is configuration, and a bad one throws).
 *
 * `defer` gives the first instant after now at which the local clock reads `end` or later, so
 * across a DST change the wait is the real one (22:00–08:00 in Berlin on the night clocks spring
 * forward lasts 9 hours, not 10). If `end` falls in a spring-forward gap, the window ends when
 * the clock jumps past it. In a fall-back overlap the local clock passes `end` twice; a decision
 * made during the repeated hour that is again inside the window defers to the second passing.
 */
export function quietHoursDecision(
  quietHours: QuietHours,
  timeZone: string | null | undefined,
  nowMs: number,
  defaultTimeZone = "UTC",
): QuietHoursDecision {
  const startMs = minutesOf(quietHours.start) * MINUTE;
  const endMs = minutesOf(quietHours.end) * MINUTE;
  if (startMs === endMs) return { action: "send" };

  const f = (timeZone ? zoneFormatter(timeZone) : null) ?? zoneFormatter(defaultTimeZone);
  if (!f) throw new RangeError(`default time zone is not a valid IANA zone: ${JSON.stringify(defaultTimeZone)}`);

  const wall = wallMs(nowMs, f);
  const ofDay = ((wall % DAY) + DAY) % DAY;
  const quiet = startMs < endMs ? ofDay >= startMs && ofDay < endMs : ofDay >= startMs || ofDay < endMs;
  if (!quiet) return { action: "send" };

  switch (quietHours.mode) {
    case "skip":
      return { action: "skip", reason: "quiet_hours" };
    case "defer": {
      const midnight = wall - ofDay;
      // Before `end` on the clock: the window ends today; otherwise (the evening part of a
      // window that crosses midnight) it ends tomorrow.
      const targetWall = ofDay < endMs ? midnight + endMs : midnight + DAY + endMs;
      return { action: "defer", untilMs: firstInstantAtWall(targetWall, nowMs, f) };
    }
    default:
      return assertNever(quietHours.mode);
  }
}

// ---------------------------------------------------------------------------------------------
// Retries

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(maxMs, baseMs · 2^(attempt−1))).
 * `attempt` is 1 for the first retry. Full jitter spreads the retries of many failed sends
 * instead of bunching them into waves against a provider that is already struggling. `random`
 * is a parameter (Math.random in production) so tests and replays are deterministic.
 */
export function retryDelayMs(attempt: number, options: { baseMs: number; maxMs: number }, random: () => number): number {
  if (!(Number.isInteger(attempt) && attempt >= 1)) throw new RangeError("attempt must be a whole number, 1 for the first retry");
  if (!(options.baseMs > 0 && options.maxMs >= options.baseMs)) throw new RangeError("need 0 < baseMs <= maxMs");
  // 2 ** large is Infinity, which min() turns into maxMs: no overflow for high attempt numbers.
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * ceiling);
}

export type ProviderErrorClass = "transient" | "permanent";

/** Node and socket error codes of a connection that failed or dropped: worth another try. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ESOCKETTIMEDOUT",
]);

const SMTP_REPLY = /^[2-5]\d\d$/;
const SMTP_ENHANCED = /^([245])\.\d{1,3}\.\d{1,3}$/;

/**
 * Whether a failed send is worth retrying.
 * - `status` is an HTTP status (push and SMS providers): 5xx, 408 and 429 are transient; any
 *   other 4xx is permanent (bad token, bad number, bad request: the same request fails again).
 * - `code` is a network error code (ECONNRESET, ETIMEDOUT, ECONNREFUSED, EAI_AGAIN, …: transient)
 *   or an SMTP reply code, basic (421, 550) or enhanced (4.2.2, 5.1.1): SMTP 4xx is transient
 *   by definition, 5xx permanent (550: no such mailbox). HTTP and SMTP disagree about 4xx,
 *   which is why they arrive in different fields.
 * - Anything else is transient: retries are bounded and end in the dead-letter topic, whereas
 *   calling an unknown failure permanent would drop the message on the first hiccup.
 */
export function classifyProviderError(error: { status?: number | null; code?: string | number | null }): ProviderErrorClass {
  const { status } = error;
  if (typeof status === "number") {
    if (status === 408 || status === 429 || (status >= 500 && status <= 599)) return "transient";
    if (status >= 400 && status <= 499) return "permanent";
  }
  const code = error.code === null || error.code === undefined ? "" : String(error.code).trim();
  if (TRANSIENT_NETWORK_CODES.has(code.toUpperCase())) return "transient";
  const smtpClass = SMTP_REPLY.test(code) ? code[0] : SMTP_ENHANCED.exec(code)?.[1];
  if (smtpClass === "5") return "permanent";
  return "transient";
}

// ---------------------------------------------------------------------------------------------
// Combined decision

export type SendDecision =
  | { action: "send" }
  | { action: "defer"; untilMs: number; reason: "quiet_hours" | "rate_limit" }
  | { action: "skip"; reason: "quiet_hours" | "frequency_cap" };

export interface SendContext {
  policy: CampaignPolicy;
  /** The limiter for this campaign's channel (see `rateLimiterForPolicy`); null for none. */
  channelLimiter: RateLimiter | null;
  /** When this user was last sent messages (any campaign the cap covers), epoch ms. */
  recentSendsMs: readonly number[];
  /** The user's IANA zone; null or unknown falls back to `defaultTimeZone`. */
  timeZone: string | null;
  nowMs: number;
  defaultTimeZone?: string;
}

/**
 * Decides one send, in this order:
 * 1. Quiet hours: defer to the window's end, or skip (per the policy's mode). First, because a
 *    deferred message is decided again when it wakes, against the sends and cap of that moment.
 * 2. Frequency cap: skip. A capped message is dropped, not queued — queueing would only move
 *    the burst the cap exists to prevent to the moment the window opens.
 * 3. Rate limit: defer until a token is due. Last, because it is the only step that consumes
 *    something: a message refused by 1 or 2 must not use up a token.
 */
export function decideSend(ctx: SendContext): SendDecision {
  const { policy, nowMs } = ctx;
  if (policy.quietHours) {
    const q = quietHoursDecision(policy.quietHours, ctx.timeZone, nowMs, ctx.defaultTimeZone);
    switch (q.action) {
      case "send":
        break;
      case "defer":
        return { action: "defer", untilMs: q.untilMs, reason: "quiet_hours" };
      case "skip":
        return { action: "skip", reason: "quiet_hours" };
      default:
        return assertNever(q);
    }
  }
  if (policy.frequencyCap && !frequencyCapDecision(policy.frequencyCap, ctx.recentSendsMs, nowMs).allowed) {
    return { action: "skip", reason: "frequency_cap" };
  }
  if (ctx.channelLimiter) {
    const r = ctx.channelLimiter.take(nowMs);
    if (!r.ok) return { action: "defer", untilMs: r.retryAtMs, reason: "rate_limit" };
  }
  return { action: "send" };
}
