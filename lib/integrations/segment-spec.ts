import { z } from "zod";
import { formatPath, type FieldIssue } from "@/lib/errors";
import { parseTimestamp, type UserEventInput } from "@/lib/events/schema";
import { eventTypes, type EventType } from "@/lib/segments/definition";

/**
 * The Segment HTTP Tracking API (track, identify, batch; page, screen, group and alias are
 * accepted and counted) mapped onto our events and profiles. Pure: no I/O; `now` is a
 * parameter. See lib/services/segment-ingest.ts for what happens to the result.
 *
 * Pairs: `segmentTrackSchema` / `SegmentTrack`, `segmentIdentifySchema` / `SegmentIdentify`,
 * `segmentBatchSchema` / `SegmentBatch`. Objects are loose: SDKs add fields (`_metadata`,
 * `integrations`, …) that we keep no use for.
 */

/** Messages per batch call. Segment limits a batch to 500 KB; MAX_BODY_BYTES bounds it too. */
export const MAX_SEGMENT_BATCH = 2500;
const MAX_ID = 256;

const idSchema = z
  .union([z.string(), z.number()], { error: "must be a string" })
  .transform((v) => String(v).trim())
  .pipe(z.string().max(MAX_ID, { message: `must be at most ${MAX_ID} characters` }));

const objectSchema = z.record(z.string(), z.unknown(), { error: "must be a JSON object" });
const timeSchema = z.union([z.string(), z.number()], { error: "must be an ISO-8601 date-time" });

const commonFields = {
  messageId: idSchema.optional(),
  userId: idSchema.nullish(),
  anonymousId: idSchema.nullish(),
  /** When it happened (the SDK's clock). */
  timestamp: timeSchema.optional(),
  /** Client time, corrected for clock skew with `sentAt` when `timestamp` is absent. */
  originalTimestamp: timeSchema.optional(),
  sentAt: timeSchema.optional(),
  context: objectSchema.optional(),
  integrations: objectSchema.optional(),
  writeKey: z.string().optional(),
};

const hasUser = (m: { userId?: unknown; anonymousId?: unknown }) => Boolean(m?.userId || m?.anonymousId);
// `when`: report a missing user together with the other fields' issues, not only once they pass.
const userRequired = { message: "userId or anonymousId is required", path: ["userId"], when: () => true };

export const segmentTrackSchema = z
  .looseObject({
    ...commonFields,
    type: z.literal("track", { error: "must be 'track'" }).optional(),
    event: z
      .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
      .trim()
      .min(1, { message: "must not be empty" })
      .max(200, { message: "must be at most 200 characters" }),
    properties: objectSchema.optional(),
  })
  .refine(hasUser, userRequired);
export type SegmentTrack = z.output<typeof segmentTrackSchema>;

export const segmentIdentifySchema = z
  .looseObject({
    ...commonFields,
    type: z.literal("identify", { error: "must be 'identify'" }).optional(),
    traits: objectSchema.optional(),
  })
  .refine(hasUser, userRequired);
export type SegmentIdentify = z.output<typeof segmentIdentifySchema>;

/** page, screen, group, alias: accepted and counted, not evaluated. */
export const segmentOtherSchema = z
  .looseObject({
    ...commonFields,
    type: z.enum(["page", "screen", "group", "alias"]),
    name: z.string().max(200).optional(),
    properties: objectSchema.optional(),
    traits: objectSchema.optional(),
  })
  .refine((m) => hasUser(m) || m.type === "alias", userRequired);
export type SegmentOther = z.output<typeof segmentOtherSchema>;

export const segmentMessageTypes = ["track", "identify", "page", "screen", "group", "alias"] as const;

/** POST /v1/batch: the envelope; each message is validated on its own (see {@link parseSegmentBatch}). */
export const segmentBatchSchema = z.looseObject({
  batch: z
    .array(z.unknown(), { error: (i) => (i.input === undefined ? "is required" : "must be an array of messages") })
    .min(1, { message: "must contain at least 1 message" })
    .max(MAX_SEGMENT_BATCH, { message: `must contain at most ${MAX_SEGMENT_BATCH} messages` }),
  /** Merged under every message's own context. */
  context: objectSchema.optional(),
  integrations: objectSchema.optional(),
  sentAt: timeSchema.optional(),
  writeKey: z.string().optional(),
});
export type SegmentBatch = z.output<typeof segmentBatchSchema>;

/** The body of POST /v1/track and /v1/identify as the route parses it (each is checked by kind). */
export const segmentSingleBodySchema = z.looseObject({ writeKey: z.string().optional() });

/** For the OpenAPI document: a batch of track/identify/… messages. */
export const segmentBatchDocSchema = segmentBatchSchema.extend({
  batch: z.array(z.union([segmentTrackSchema, segmentIdentifySchema, segmentOtherSchema])).min(1).max(MAX_SEGMENT_BATCH),
});

export type SegmentMessage =
  | ({ type: "track" } & SegmentTrack)
  | ({ type: "identify" } & SegmentIdentify)
  | SegmentOther;

export type ParsedMessages = { messages: { index: number; message: SegmentMessage }[]; issues: FieldIssue[] };

function issuesOf(error: z.ZodError, prefix: PropertyKey[]): FieldIssue[] {
  return error.issues.map((i) => ({ field: formatPath([...prefix, ...i.path]) || "body", reason: i.message }));
}

/**
 * Validates one message of a known or declared type. Returns the issues at `prefix` (like
 * `batch[3]`) when it is invalid.
 */
export function parseSegmentMessage(
  input: unknown,
  kind: (typeof segmentMessageTypes)[number] | "any",
  prefix: PropertyKey[] = [],
): { ok: true; message: SegmentMessage } | { ok: false; issues: FieldIssue[] } {
  if (!input || typeof input !== "object" || Array.isArray(input)) {
    return { ok: false, issues: [{ field: formatPath(prefix) || "body", reason: "must be a message object" }] };
  }
  const declared = (input as { type?: unknown }).type;
  const type = kind === "any" ? declared : kind;
  switch (type) {
    case "track": {
      const r = segmentTrackSchema.safeParse(input);
      return r.success ? { ok: true, message: { ...r.data, type: "track" } } : { ok: false, issues: issuesOf(r.error, prefix) };
    }
    case "identify": {
      const r = segmentIdentifySchema.safeParse(input);
      return r.success ? { ok: true, message: { ...r.data, type: "identify" } } : { ok: false, issues: issuesOf(r.error, prefix) };
    }
    case "page":
    case "screen":
    case "group":
    case "alias": {
      const r = segmentOtherSchema.safeParse(input);
      return r.success ? { ok: true, message: r.data } : { ok: false, issues: issuesOf(r.error, prefix) };
    }
    default:
      return {
        ok: false,
        issues: [
          {
            field: formatPath([...prefix, "type"]),
            reason: declared === undefined ? "is required" : `must be one of ${segmentMessageTypes.join(", ")}`,
          },
        ],
      };
  }
}

/** Validates every message of a batch, merging the batch's context and sentAt under each. */
export function parseSegmentBatch(batch: SegmentBatch): ParsedMessages {
  const messages: ParsedMessages["messages"] = [];
  const issues: FieldIssue[] = [];
  batch.batch.forEach((raw, index) => {
    const r = parseSegmentMessage(raw, "any", ["batch", index]);
    if (!r.ok) {
      issues.push(...r.issues);
      return;
    }
    const m = r.message;
    const context = batch.context || m.context ? { ...batch.context, ...m.context } : undefined;
    messages.push({
      index,
      message: { ...m, ...(context ? { context } : {}), sentAt: m.sentAt ?? batch.sentAt },
    });
  });
  return { messages, issues };
}

// ---- event mapping -------------------------------------------------------------------------

/** Segment's e-commerce and mobile spec names for the events we evaluate. */
export const DEFAULT_SEGMENT_EVENT_MAP: Readonly<Record<string, EventType>> = {
  "Order Completed": "orders",
  "Product Added": "addToCart",
  "Product Clicked": "clicks",
  "Application Installed": "installs",
};

/** SEGMENT_EVENT_MAP: a JSON object of Segment event name → one of our event types. */
export const segmentEventMapSchema = z.record(
  z.string().min(1).max(200),
  z.enum(eventTypes, { error: `must be one of ${eventTypes.join(", ")}` }),
  { error: 'must be a JSON object like {"Order Completed":"orders"}' },
);
export type SegmentEventMap = Record<string, EventType>;

/**
 * The mapping in force: our own event type names map to themselves; then the configured map
 * (SEGMENT_EVENT_MAP, else Segment's spec names); then the stored mappings, which win.
 */
export function effectiveEventMap(configured: SegmentEventMap | undefined, stored: ReadonlyMap<string, EventType>): Map<string, EventType> {
  const out = new Map<string, EventType>(eventTypes.map((t) => [t, t]));
  for (const [name, type] of Object.entries(configured ?? DEFAULT_SEGMENT_EVENT_MAP)) out.set(name, type);
  for (const [name, type] of stored) out.set(name, type);
  return out;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * The event time: `timestamp` when given; else `originalTimestamp` corrected for the client's
 * clock skew as Segment does (`now − (sentAt − originalTimestamp)`); else `now`. A value we cannot
 * parse is passed on as is, so event validation names it.
 */
export function eventTime(m: Pick<SegmentTrack, "timestamp" | "originalTimestamp" | "sentAt">, nowMs: number): unknown {
  if (m.timestamp !== undefined) return m.timestamp;
  if (m.originalTimestamp !== undefined) {
    const original = parseTimestamp(m.originalTimestamp);
    const sent = m.sentAt === undefined ? undefined : parseTimestamp(m.sentAt);
    if (original === undefined) return m.originalTimestamp;
    return sent === undefined ? original : nowMs - (sent - original);
  }
  return nowMs;
}

export type TrackMapping =
  | { kind: "event"; event: UserEventInput }
  | { kind: "unmapped"; name: string; userId: string; properties: Record<string, unknown> };

/**
 * A track call as one of our events: userId (else anonymousId), the mapped event type, the time,
 * `properties` as attributes — with `value` taken from `revenue` when absent, so sum rules over
 * the default field count revenue — and `context.device.id` as the device id.
 */
export function mapTrack(m: SegmentTrack, map: ReadonlyMap<string, EventType>, nowMs: number): TrackMapping {
  const userId = (m.userId || m.anonymousId)!;
  const properties = m.properties ?? {};
  const eventType = map.get(m.event);
  if (!eventType) return { kind: "unmapped", name: m.event, userId, properties };
  const attributes: Record<string, unknown> = { ...properties };
  if (!finite(attributes.value) && finite(properties.revenue)) attributes.value = properties.revenue;
  const device = (m.context?.device ?? undefined) as { id?: unknown } | undefined;
  const deviceId = typeof device?.id === "string" && device.id.trim() !== "" ? device.id.slice(0, MAX_ID) : undefined;
  return {
    kind: "event",
    event: {
      userId,
      eventType,
      timestamp: eventTime(m, nowMs),
      attributes,
      ...(deviceId ? { deviceId } : {}),
    },
  };
}

// ---- identify → profile ----------------------------------------------------------------------

export interface TraitUpdate {
  userId: string;
  /** Set when the traits carry a usable one; absent leaves the stored value. */
  email?: string;
  phone?: string;
  timezone?: string;
  /** Every other trait (and an email or phone we could not use), merged into the attributes. */
  attributes: Record<string, unknown>;
}

const EMAIL = z.email();
const E164 = /^\+[1-9]\d{6,14}$/;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * identify → profile: `traits.email` and `traits.phone` become the contact points when valid
 * (a phone with spaces, dashes or parentheses is compacted; it must then be E.164), `timezone`
 * (trait or context) the profile's time zone; everything else is merged into the attributes.
 * A contact point we cannot use stays in the attributes under its name, so nothing is lost.
 */
export function mapIdentify(m: SegmentIdentify): TraitUpdate {
  const userId = (m.userId || m.anonymousId)!;
  const { email, phone, timezone, ...rest } = m.traits ?? {};
  const out: TraitUpdate = { userId, attributes: { ...rest } };
  if (typeof email === "string" && EMAIL.safeParse(email.trim()).success && email.length <= 320) out.email = email.trim();
  else if (email !== undefined) out.attributes.email = email;
  const compact = typeof phone === "string" ? phone.replace(/[\s\-().]/g, "") : undefined;
  if (compact && E164.test(compact)) out.phone = compact;
  else if (phone !== undefined) out.attributes.phone = phone;
  const tz = typeof timezone === "string" ? timezone : typeof m.context?.timezone === "string" ? m.context.timezone : undefined;
  if (tz && isTimeZone(tz)) out.timezone = tz;
  else if (timezone !== undefined) out.attributes.timezone = timezone;
  return out;
}

/** The name an unmapped non-track message is counted under. */
export const otherMessageName = (type: SegmentOther["type"]) => `(${type})`;
