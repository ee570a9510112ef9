import { z } from "zod";
import { formatPath, type FieldIssue } from "@/lib/errors";
import { eventTypes } from "@/lib/segments/definition";
import { personalDataIssues } from "./pii";

/**
 * User events as the ingestion API accepts them (seed §4 UserEvent) and as they travel on
 * `user-events`. Pure: no I/O; the time-window check takes `now` as a parameter.
 *
 * Pairs: `userEventSchema` / `UserEventInput` → `UserEvent` (validated, timestamp in epoch ms),
 * `ingestedEventSchema` / `IngestedEvent` (the message value, with the id and receive time
 * assigned at ingestion).
 */
export const MAX_EVENTS_PER_BATCH = 1000;
export const MAX_ID_LENGTH = 256;
/** Events older than this relative to `now` are refused (FR8): windows never exceed 24 h. */
export const MAX_EVENT_AGE_MS = 24 * 60 * 60 * 1000;
/** Clock skew tolerated for events stamped ahead of `now`. */
export const MAX_EVENT_FUTURE_MS = 5 * 60 * 1000;

const TIMESTAMP_REASON =
  "must be an ISO-8601 date-time with a time zone (like 2024-05-01T12:00:00Z) or epoch milliseconds as a number";

// YYYY-MM-DDThh:mm[:ss[.fraction]] then Z or ±hh:mm (±hhmm). A zone is required: a local time
// names a different instant on every server.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/**
 * Epoch milliseconds of an ISO-8601 date-time with a zone, or undefined. Strict where
 * `Date.parse` is lenient: 2024-02-30 or 25:00 are refused, not rolled over.
 */
export function parseIsoTimestamp(text: string): number | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  return d.getTime() - offsetMinutes * 60_000;
}

/** A timestamp as sent (ISO string or epoch ms) → epoch ms; undefined when unparseable. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value === "string") return parseIsoTimestamp(value.trim());
  return undefined;
}

/**
 * Why an event time is outside the accepted window `[now − 24 h, now + 5 min]`, or undefined
 * when it is inside (both edges included).
 */
export function checkEventTime(timestampMs: number, nowMs: number): string | undefined {
  if (timestampMs < nowMs - MAX_EVENT_AGE_MS) {
    // 1.7e9 is "now" in epoch seconds but 1970-01-20 in milliseconds: say so.
    const looksLikeSeconds = Math.abs(timestampMs * 1000 - nowMs) <= MAX_EVENT_AGE_MS;
    return looksLikeSeconds
      ? "is more than 24 hours in the past (it looks like epoch seconds; send milliseconds)"
      : "is more than 24 hours in the past";
  }
  if (timestampMs > nowMs + MAX_EVENT_FUTURE_MS) return "is more than 5 minutes in the future";
  return undefined;
}

const required = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : what),
});

const optionalId = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, { message: "must not be empty" })
  .max(MAX_ID_LENGTH, { message: `must be at most ${MAX_ID_LENGTH} characters` })
  .optional();

const attributesSchema = z.record(z.string(), z.unknown(), { error: "must be a JSON object" });

const userEventFields = ["userId", "eventType", "timestamp", "attributes", "sessionId", "deviceId"] as const;

/** One UserEvent as sent (structure only; the time window needs `now`, see {@link validateEvents}). */
export const userEventSchema = z
  .object(
    {
      userId: z
        .string(required("must be a string"))
        .trim()
        .min(1, { message: "must not be empty" })
        .max(MAX_ID_LENGTH, { message: `must be at most ${MAX_ID_LENGTH} characters` }),
      eventType: z.enum(eventTypes, required(`must be one of ${eventTypes.join(", ")}`)),
      timestamp: z.unknown().transform((value, ctx) => {
        const ms = parseTimestamp(value);
        if (ms === undefined) {
          ctx.addIssue({ code: "custom", message: value === undefined ? "is required" : TIMESTAMP_REASON });
          return z.NEVER;
        }
        return ms;
      }),
      attributes: attributesSchema.default({}),
      sessionId: optionalId,
      deviceId: optionalId,
    },
    { error: (issue) => (issue.code === "invalid_type" ? "must be an event object" : undefined) },
  )
  .strict()
  // Personal data stays out of the stream (lib/events/pii.ts, docs/privacy.md).
  .superRefine((event, ctx) => {
    for (const issue of personalDataIssues(event)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.reason });
  });

export type UserEventInput = z.input<typeof userEventSchema>;
/** A validated event: trimmed ids, timestamp in epoch milliseconds, attributes defaulted to {}. */
export type UserEvent = z.output<typeof userEventSchema>;

/** POST /api/v1/events: the envelope only; each event is validated with `now` by {@link validateEvents}. */
export const eventBatchSchema = z
  .object(
    {
      events: z
        .array(z.unknown(), required("must be an array of events"))
        .min(1, { message: "must contain at least 1 event" })
        .max(MAX_EVENTS_PER_BATCH, { message: `must contain at most ${MAX_EVENTS_PER_BATCH} events` }),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}; expected {"events": [...]}`
          : issue.code === "invalid_type"
            ? 'must be an object like {"events": [...]}'
            : undefined,
    },
  )
  .strict();
export type EventBatchInput = z.output<typeof eventBatchSchema>;

/** POST /api/v1/events/single: any JSON; the event is validated with `now` by {@link validateEvent}. */
export const singleEventBodySchema = z.unknown();

export type EventValidation = { ok: true; events: UserEvent[] } | { ok: false; issues: FieldIssue[] };

/** Unknown keys reported one by one at their own path (at most this many per event). */
const MAX_UNKNOWN_KEYS_REPORTED = 10;

function issuesOf(error: z.ZodError, prefix: PropertyKey[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
      for (const key of issue.keys.slice(0, MAX_UNKNOWN_KEYS_REPORTED)) {
        out.push({
          field: formatPath([...prefix, key]) || "body",
          reason: `is not a known field (expected ${userEventFields.join(", ")})`,
        });
      }
      continue;
    }
    out.push({ field: formatPath([...prefix, ...issue.path]) || "body", reason: issue.message });
  }
  return out;
}

/** Orders one event's issues as its fields are declared; unknown keys last. */
function fieldRank(path: string): number {
  const last = /([A-Za-z0-9_$]+)$/.exec(path)?.[1] ?? "";
  const rank = (userEventFields as readonly string[]).indexOf(last);
  return rank === -1 ? userEventFields.length : rank;
}

/**
 * Validates events against the schema and the time window around `nowMs`. Every failing
 * field of every event is reported, at `prefix(index)` (default `events[i]`), so a client can
 * fix a whole batch at once; the batch is valid only if all its events are.
 */
export function validateEvents(
  inputs: readonly unknown[],
  nowMs: number,
  prefix: (index: number) => PropertyKey[] = (index) => ["events", index],
): EventValidation {
  const events: UserEvent[] = [];
  const issues: FieldIssue[] = [];
  inputs.forEach((input, index) => {
    const at = prefix(index);
    const parsed = userEventSchema.safeParse(input);
    if (parsed.success) {
      const reason = checkEventTime(parsed.data.timestamp, nowMs);
      if (reason) issues.push({ field: formatPath([...at, "timestamp"]), reason });
      else events.push(parsed.data);
      return;
    }
    const found = issuesOf(parsed.error, at);
    // The window is checked even when other fields fail, so every problem shows at once.
    const raw = input && typeof input === "object" ? (input as { timestamp?: unknown }).timestamp : undefined;
    const ms = parseTimestamp(raw);
    const reason = ms === undefined ? undefined : checkEventTime(ms, nowMs);
    if (reason) found.push({ field: formatPath([...at, "timestamp"]), reason });
    issues.push(...found.sort((a, b) => fieldRank(a.field) - fieldRank(b.field)));
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, events };
}

/** One event sent on its own (POST /api/v1/events/single): paths without the `events[i]` prefix. */
export function validateEvent(input: unknown, nowMs: number): EventValidation {
  return validateEvents([input], nowMs, () => []);
}

/**
 * The value of a `user-events` message (JSON). Consumers parse every message with it: a
 * payload that crossed a process boundary is never trusted. Not strict, so a newer producer
 * may add fields without breaking older consumers.
 */
export const ingestedEventSchema = z.object({
  /** Assigned at ingestion; consumers may use it to drop redelivered duplicates. */
  eventId: z.uuid(),
  userId: z.string().min(1).max(MAX_ID_LENGTH),
  eventType: z.enum(eventTypes),
  /** Event time, epoch milliseconds. */
  timestamp: z.number().int(),
  attributes: z.record(z.string(), z.unknown()),
  sessionId: z.string().max(MAX_ID_LENGTH).optional(),
  deviceId: z.string().max(MAX_ID_LENGTH).optional(),
  /** When the API accepted it (the server's clock), epoch milliseconds. */
  receivedAt: z.number().int(),
});
export type IngestedEvent = z.output<typeof ingestedEventSchema>;

/** The message value for a validated event; the id and receive time come from the caller. */
export function toIngestedEvent(event: UserEvent, eventId: string, receivedAt: number): IngestedEvent {
  return {
    eventId,
    userId: event.userId,
    eventType: event.eventType,
    timestamp: event.timestamp,
    attributes: event.attributes,
    ...(event.sessionId !== undefined ? { sessionId: event.sessionId } : {}),
    ...(event.deviceId !== undefined ? { deviceId: event.deviceId } : {}),
    receivedAt,
  };
}

/**
 * A `user-events` message that makes a user known without an event (a profile was created), so
 * zero-event rules ("< 1 orders in 60 min") apply to them too. Key: userId.
 */
export const userKnownMessageSchema = z
  .object({
    kind: z.literal("user-known"),
    userId: z.string().min(1).max(MAX_ID_LENGTH),
    at: z.number().int(),
  })
  .strict();
export type UserKnownMessage = z.output<typeof userKnownMessageSchema>;

/**
 * A `user-events` message that erases a user (DELETE /api/v1/users/{id}, docs/privacy.md). Key:
 * userId, so it lands in the partition of the user's events, after every one of them: the
 * processor owning the partition forgets the user's window state, deletes what it had written
 * for them and checkpoints; a replay from an older checkpoint meets it again in the same order.
 */
export const userErasedMessageSchema = z
  .object({
    kind: z.literal("user-erased"),
    userId: z.string().min(1).max(MAX_ID_LENGTH),
    at: z.number().int(),
  })
  .strict();
export type UserErasedMessage = z.output<typeof userErasedMessageSchema>;
