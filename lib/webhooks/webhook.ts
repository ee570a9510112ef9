import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/**
 * Membership webhooks, the pure part: the subscription schemas the REST API takes, the payload
 * of a delivery, its signature, and the retry and disable policy. No I/O; time is a parameter.
 *
 * Pairs: `createWebhookSchema` / `CreateWebhookInput`, `updateWebhookSchema` / `UpdateWebhookInput`.
 */
export const webhookEvents = ["enter", "exit"] as const;
export type WebhookEvent = (typeof webhookEvents)[number];

export const SIGNATURE_HEADER = "x-am-signature";
export const DELIVERY_ID_HEADER = "x-am-delivery-id";
export const EVENT_HEADER = "x-am-event";
/** Receivers should refuse a signature older than this (replay protection). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const urlSchema = z
  .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
  .trim()
  .max(2048, { message: "must be at most 2048 characters" })
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === "https:" || u.protocol === "http:") && !u.username && !u.password;
      } catch {
        return false;
      }
    },
    { message: "must be an http(s) URL without credentials" },
  );

const secretSchema = z
  .string({ error: "must be a string" })
  .min(16, { message: "must be at least 16 characters" })
  .max(200, { message: "must be at most 200 characters" })
  .regex(/^[\x21-\x7e]+$/, { message: "must be printable ASCII without spaces" });

const eventsSchema = z
  .array(z.enum(webhookEvents, { error: `must be one of ${webhookEvents.join(", ")}` }), { error: "must be an array" })
  .min(1, { message: "must name at least one event" })
  .max(2)
  .transform((list) => [...new Set(list)].sort() as WebhookEvent[]);

const segmentIdSchema = z
  .string({ error: "must be a segment id or null" })
  .regex(UUID, { message: "must be a segment id (UUID)" })
  .transform((s) => s.toLowerCase())
  .nullable();

const descriptionSchema = z.string().max(500, { message: "must be at most 500 characters" }).nullable();

// POST /api/v1/webhooks
export const createWebhookSchema = z
  .object({
    url: urlSchema,
    /** Null or absent: every segment. */
    segmentId: segmentIdSchema.optional().transform((v) => v ?? null),
    events: eventsSchema.default(["enter", "exit"]),
    /** Absent: one is generated. Returned once, in the creation response. */
    secret: secretSchema.optional(),
    description: descriptionSchema.optional().transform((v) => v ?? null),
    enabled: z.boolean({ error: "must be true or false" }).default(true),
  })
  .strict();
export type CreateWebhookInput = z.output<typeof createWebhookSchema>;

// PATCH /api/v1/webhooks/{id}: only the fields given change; enabling clears the failure count and reason.
export const updateWebhookSchema = z
  .object({
    url: urlSchema.optional(),
    segmentId: segmentIdSchema.optional(),
    events: eventsSchema.optional(),
    /** A new secret (rotation); returned once, in this response. */
    secret: secretSchema.optional(),
    description: descriptionSchema.optional(),
    enabled: z.boolean({ error: "must be true or false" }).optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: "name at least one field to change" });
export type UpdateWebhookInput = z.output<typeof updateWebhookSchema>;

export const webhookListQuerySchema = z.object({
  limit: z.coerce.number({ error: "must be a number" }).int().min(1).max(100).default(50),
  after: z.string().regex(UUID, { message: "must be a webhook id" }).optional(),
});

export const deliveryStatuses = ["pending", "delivered", "failed"] as const;
export const deliveryListQuerySchema = z.object({
  limit: z.coerce.number({ error: "must be a number" }).int().min(1).max(200).default(50),
  /** Cursor: the `next` of the previous page. */
  before: z.string().max(100).optional(),
  status: z.enum(deliveryStatuses).optional(),
});

// ---- payload and signature ---------------------------------------------------------------------

export interface MembershipTransition {
  /** Deterministic: userId|segmentId|kind|at. */
  id: string;
  userId: string;
  segmentId: string;
  kind: WebhookEvent;
  at: number;
  cause: string;
  version: number;
}

/** The JSON body of a delivery. The same text is sent (and signed) on every attempt. */
export interface WebhookPayload {
  /** The delivery id (also X-AM-Delivery-Id): the same on every attempt of this delivery. */
  id: string;
  type: "segment.entered" | "segment.exited";
  createdAt: string;
  data: {
    userId: string;
    segmentId: string;
    segmentName: string | null;
    transition: WebhookEvent;
    /** When the user entered or left (event time). */
    at: string;
    cause: string;
    definitionVersion: number;
    transitionId: string;
  };
}

export function buildPayload(deliveryId: string, t: MembershipTransition, segmentName: string | null, now: Date): string {
  const body: WebhookPayload = {
    id: deliveryId,
    type: t.kind === "enter" ? "segment.entered" : "segment.exited",
    createdAt: now.toISOString(),
    data: {
      userId: t.userId,
      segmentId: t.segmentId,
      segmentName,
      transition: t.kind,
      at: new Date(t.at).toISOString(),
      cause: t.cause,
      definitionVersion: t.version,
      transitionId: t.id,
    },
  };
  return JSON.stringify(body);
}

const hmac = (secret: string, timestamp: number, body: string) =>
  createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");

/** `X-AM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signatureHeader(secret: string, body: string, now: Date): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

/**
 * What a receiver does: recompute the HMAC over `<t>.<raw body>` and compare in constant time,
 * refusing a timestamp more than `toleranceSeconds` from `now`. Exported for receivers written
 * in TypeScript and for the tests.
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string | null | undefined,
  now: Date,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): { ok: true } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: "missing signature header" };
  const parts = new Map<string, string[]>();
  for (const item of header.split(",")) {
    const [k, v] = item.split("=", 2).map((s) => s.trim());
    if (k && v) parts.set(k, [...(parts.get(k) ?? []), v]);
  }
  const t = Number(parts.get("t")?.[0]);
  if (!Number.isInteger(t)) return { ok: false, reason: "no timestamp" };
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return { ok: false, reason: "timestamp outside the tolerance" };
  const expected = Buffer.from(hmac(secret, t, body), "hex");
  for (const v1 of parts.get("v1") ?? []) {
    const given = Buffer.from(v1, "hex");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: "no matching v1 signature" };
}

// ---- policy ------------------------------------------------------------------------------

export interface WebhookPolicy {
  /** Attempts of one delivery before it is marked failed. */
  maxAttempts: number;
  /** Failed attempts in a row (over all deliveries of a subscription) that disable it. */
  disableAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = {
  maxAttempts: 8,
  disableAfter: 20,
  baseDelayMs: 10_000,
  maxDelayMs: 60 * 60_000,
};

/**
 * The wait before attempt `attempt + 1` after `attempt` failed: exponential (base · 2^(attempt−1),
 * capped) with jitter in [½, 1] of it, so receivers coming back are not hit by every retry at once
 * yet the backoff still grows.
 */
export function webhookRetryDelayMs(attempt: number, policy: Pick<WebhookPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling / 2 + (ceiling / 2) * r);
}

/** Whether a response status counts as delivered: any 2xx. A redirect is not followed, and fails. */
export const isDelivered = (status: number) => status >= 200 && status < 300;

/** Why a subscription was disabled, as shown in the API and the UI. */
export function disabledReason(failures: number, lastOutcome: string, now: Date): string {
  return `disabled after ${failures} consecutive failed deliveries (last: ${lastOutcome}) at ${now.toISOString()}`;
}
