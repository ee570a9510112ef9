import { z } from "zod";
import { campaignStatuses, campaignTriggers, channelTypes } from "@/lib/campaigns/campaign";
import { eventTypes, operators, ruleAttributes, segmentTypes } from "@/lib/segments/definition";
import { webhookEvents } from "@/lib/webhooks/webhook";

/**
 * What the REST API answers, on the wire (JSON: dates are ISO-8601 strings). Used by the OpenAPI
 * document (lib/http/openapi.ts) and the typed client (lib/client), whose tests parse real
 * answers with them. Objects are loose: a new field is not a breaking change.
 */
const dateTime = z.iso.datetime({ offset: true });
const nullableDateTime = dateTime.nullable();

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.looseObject({
      field: z.string().optional(),
      reason: z.string().optional(),
      errors: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
    }),
    timestamp: dateTime,
    traceId: z.string(),
  }),
});

export const ruleResponseSchema = z.looseObject({
  eventType: z.enum(eventTypes),
  attribute: z.enum(ruleAttributes),
  field: z.string().nullish(),
  operator: z.enum(operators),
  value: z.number(),
  windowMinutes: z.number().int(),
});

export const segmentResponseSchema = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  type: z.enum(segmentTypes),
  active: z.boolean(),
  version: z.number().int(),
  rules: z.array(ruleResponseSchema),
  logicalExpression: z.string().nullable(),
  expressionTree: z.unknown(),
  dependencies: z.array(z.looseObject({ segmentId: z.uuid(), dependsOnSegmentId: z.uuid() })),
  createdBy: z.string(),
  updatedBy: z.string(),
  createdAt: dateTime,
  updatedAt: dateTime,
});

export const segmentWithStatsSchema = segmentResponseSchema.extend({
  stats: z.looseObject({
    currentMembers: z.number().int(),
    entriesLast24h: z.number().int(),
    exitsLast24h: z.number().int(),
    evaluation: z.looseObject({ state: z.enum(["backfilling", "ready"]) }).nullable().optional(),
  }),
});

const pagination = z.looseObject({ page: z.number().int(), pageSize: z.number().int(), total: z.number().int(), totalPages: z.number().int() });

export const segmentListSchema = z.looseObject({ data: z.array(segmentResponseSchema), pagination });

export const segmentVersionsSchema = z.looseObject({
  data: z.array(z.looseObject({ version: z.number().int(), definition: z.unknown(), changedBy: z.string(), changedAt: dateTime })),
});

export const memberPageSchema = z.looseObject({
  segmentId: z.uuid(),
  data: z.array(z.looseObject({ userId: z.string(), enteredAt: dateTime })),
  next: z.string().nullable(),
});

export const acceptedSchema = z.object({ accepted: z.number().int() });

export const ingestHealthSchema = z.looseObject({
  status: z.literal("ok"),
  eventLog: z.enum(["kafka", "local"]),
  lastAppend: z.object({ ok: z.boolean(), at: dateTime }).nullable(),
  checkedAt: nullableDateTime,
});

export const userSegmentsSchema = z.looseObject({
  userId: z.string(),
  segments: z.array(z.looseObject({ segmentId: z.uuid(), name: z.string().nullable(), enteredAt: dateTime, version: z.number().int() })),
});

export const userHistorySchema = z.looseObject({
  userId: z.string(),
  data: z.array(
    z.looseObject({
      segmentId: z.uuid(),
      segmentName: z.string().nullable(),
      enteredAt: dateTime,
      exitedAt: nullableDateTime,
      enterCause: z.string(),
      exitCause: z.string().nullable(),
      definitionVersion: z.number().int(),
    }),
  ),
  next: z.string().nullable(),
});

export const userEventsSchema = z.looseObject({
  userId: z.string(),
  since: dateTime,
  data: z.array(z.looseObject({ eventId: z.string(), eventType: z.enum(eventTypes), timestamp: dateTime, attributes: z.record(z.string(), z.unknown()) })),
});

export const profileResponseSchema = z.looseObject({
  userId: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  deviceTokens: z.array(z.unknown()),
  timezone: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  createdAt: dateTime,
  updatedAt: dateTime,
});

export const campaignResponseSchema = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  segmentId: z.uuid(),
  channelType: z.enum(channelTypes),
  trigger: z.enum(campaignTriggers),
  subject: z.string().nullable(),
  template: z.string(),
  status: z.enum(campaignStatuses),
  scheduledAt: nullableDateTime,
  policy: z.record(z.string(), z.unknown()),
  version: z.number().int(),
  createdBy: z.string(),
  createdAt: dateTime,
  updatedAt: dateTime,
});

export const campaignDetailSchema = campaignResponseSchema.extend({
  delivery: z.looseObject({ total: z.number().int() }),
  runs: z.array(z.looseObject({ id: z.uuid(), status: z.string() })),
});

export const campaignListSchema = z.looseObject({ data: z.array(campaignResponseSchema), pagination });

export const campaignRunSchema = z.looseObject({ id: z.uuid(), campaignId: z.uuid(), status: z.string() });

export const campaignSendsSchema = z.looseObject({
  campaignId: z.uuid(),
  data: z.array(z.looseObject({ id: z.number().int(), userId: z.string(), channel: z.enum(channelTypes), status: z.string(), reason: z.string().nullable(), attempts: z.number().int() })),
  next: z.string().nullable(),
});

export const apiKeyCreatedSchema = z.looseObject({
  apiKey: z.looseObject({ id: z.uuid(), name: z.string(), prefix: z.string(), scopes: z.array(z.string()) }),
  /** The key itself: shown in this answer only. */
  key: z.string(),
});

/** An answer this document does not detail yet (analytics, explain, insights, admin). */
export const objectSchema = z.looseObject({});

// ---- integrations ----------------------------------------------------------------------------

export const segmentIngestResultSchema = z.object({
  success: z.literal(true),
  received: z.number().int(),
  accepted: z.number().int(),
  identified: z.number().int(),
  unmapped: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.array(z.object({ field: z.string(), reason: z.string() })),
});

export const segmentMappingsSchema = z.object({
  mappings: z.array(z.object({ eventName: z.string(), eventType: z.enum(eventTypes), source: z.enum(["builtin", "default", "env", "stored"]) })),
  unmapped: z.array(
    z.object({
      eventName: z.string(),
      count: z.number().int(),
      firstSeenAt: dateTime,
      lastSeenAt: dateTime,
      lastUserId: z.string().nullable(),
      lastProperties: z.record(z.string(), z.unknown()),
    }),
  ),
});

export const storedMappingSchema = z.object({ eventName: z.string(), eventType: z.enum(eventTypes), updatedBy: z.string(), updatedAt: dateTime });

export const webhookResponseSchema = z.object({
  id: z.uuid(),
  description: z.string().nullable(),
  url: z.string(),
  segmentId: z.uuid().nullable(),
  events: z.array(z.enum(webhookEvents)),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  disabledAt: nullableDateTime,
  consecutiveFailures: z.number().int(),
  secretHint: z.string(),
  createdBy: z.string(),
  createdAt: dateTime,
  updatedAt: dateTime,
});

/** Creation and rotation answer with the secret, once. */
export const webhookWithSecretSchema = webhookResponseSchema.extend({ secret: z.string() });
export const webhookUpdateResponseSchema = webhookResponseSchema.extend({ secret: z.string().optional() });

export const webhookListSchema = z.object({ data: z.array(webhookResponseSchema), next: z.uuid().nullable() });

export const webhookDeliverySchema = z.object({
  id: z.uuid(),
  subscriptionId: z.uuid(),
  transitionId: z.string(),
  event: z.enum(webhookEvents),
  segmentId: z.uuid(),
  userId: z.string(),
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number().int(),
  nextAttemptAt: nullableDateTime,
  lastAttemptAt: nullableDateTime,
  lastResponseCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  attemptLog: z.array(z.object({ at: dateTime, responseCode: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number() })),
  createdAt: dateTime,
  deliveredAt: nullableDateTime,
});

export const webhookDeliveriesSchema = z.object({ data: z.array(webhookDeliverySchema), next: z.string().nullable() });
