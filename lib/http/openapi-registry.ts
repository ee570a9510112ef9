import { z } from "zod";
import {
  campaignAnalyticsQuerySchema,
  campaignSendsQuerySchema,
  campaignStatusSchema,
  createCampaignSchema,
  listCampaignsQuerySchema,
  previewCampaignSchema,
  previewDraftSchema,
  updateCampaignSchema,
} from "@/lib/campaigns/campaign";
import { eventBatchSchema, singleEventBodySchema, userEventSchema } from "@/lib/events/schema";
import {
  segmentBatchDocSchema,
  segmentIdentifySchema,
  segmentTrackSchema,
} from "@/lib/integrations/segment-spec";
import type { Scope } from "@/lib/ports/auth";
import {
  createSegmentSchema,
  listSegmentsQuerySchema,
  pageQuerySchema,
  segmentStatusSchema,
  updateSegmentSchema,
} from "@/lib/segments/definition";
import { activityQuerySchema, batchActivityQuerySchema, estimateSegmentSchema, memberPageQuerySchema } from "@/lib/segments/insights";
import { changePasswordSchema, createApiKeySchema, inviteUserSchema, updateUserSchema } from "@/lib/services/accounts";
import { auditQuerySchema } from "@/lib/services/audit";
import { deleteMappingQuerySchema, putMappingSchema } from "@/lib/services/segment-ingest";
import { activeUsersQuerySchema, userEventsQuerySchema } from "@/lib/users/events";
import { profileInputSchema } from "@/lib/users/profile";
import {
  createWebhookSchema,
  deliveryListQuerySchema,
  updateWebhookSchema,
  webhookListQuerySchema,
} from "@/lib/webhooks/webhook";
import * as wire from "./api-schemas";

/**
 * Every REST operation: method, path, who may call it, and the zod schemas its handler parses
 * (the same objects the route files pass to `route()`) and answers with. The OpenAPI document
 * (GET /api/v1/openapi.json) and the typed client (lib/client) are generated from this table;
 * lib/http/openapi.test.ts fails when an app/**\/route.ts method is missing here, or here but not
 * on disk.
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ApiOperation {
  method: HttpMethod;
  /** OpenAPI path with `{param}` segments, as the route folders name them. */
  path: string;
  summary: string;
  tag: string;
  /** `write-key`: the Segment write key (Basic auth user name), which must hold `ingest`. */
  scope: Scope | "public" | "write-key";
  /** The body schema the handler parses. */
  body?: z.ZodType;
  /** Documents the body when the handler parses an envelope first and each item later (events). */
  bodyDoc?: z.ZodType;
  query?: z.ZodType;
  /** Success status (default 200). */
  status?: number;
  /** The success body: a JSON schema, `csv` (text/csv), `text` (text/plain), or absent for 204. */
  response?: z.ZodType | "csv" | "text";
}

const op = <const O extends ApiOperation>(o: O) => o;

/** A UserEvent as documented: the handler validates each with userEventSchema and `now`. */
const userEventDoc = z
  .object({
    ...userEventSchema.shape,
    timestamp: z.union([z.iso.datetime({ offset: true }), z.number().int()]).describe("ISO-8601 with a zone, or epoch milliseconds; within the last 24 h, at most 5 min ahead"),
  })
  .strict();

const segmentCall = (name: "track" | "identify" | "batch", path: string, alias: boolean) =>
  op({
    method: "POST",
    path,
    tag: "Segment-spec ingestion",
    summary: `${alias ? "Alias of /api/v1/segment/" + name + " for SDKs given only a host. " : ""}Segment HTTP Tracking API \`${name}\``,
    scope: "write-key",
    body: z.looseObject({ writeKey: z.string().optional() }),
    bodyDoc: name === "track" ? segmentTrackSchema : name === "identify" ? segmentIdentifySchema : segmentBatchDocSchema,
    response: wire.segmentIngestResultSchema,
  });

export const operations = {
  // ---- segments
  "segments.list": op({ method: "GET", path: "/api/v1/segments", tag: "Segments", summary: "Page through segments, filtered by type, active and name", scope: "read", query: listSegmentsQuerySchema, response: wire.segmentListSchema }),
  "segments.create": op({ method: "POST", path: "/api/v1/segments", tag: "Segments", summary: "Create an independent or derived segment", scope: "write", body: createSegmentSchema, status: 201, response: wire.segmentResponseSchema }),
  "segments.get": op({ method: "GET", path: "/api/v1/segments/{segmentId}", tag: "Segments", summary: "The definition plus membership stats", scope: "read", response: wire.segmentWithStatsSchema }),
  "segments.update": op({ method: "PUT", path: "/api/v1/segments/{segmentId}", tag: "Segments", summary: "Replace the definition (version + 1)", scope: "write", body: updateSegmentSchema, response: wire.segmentResponseSchema }),
  "segments.delete": op({ method: "DELETE", path: "/api/v1/segments/{segmentId}", tag: "Segments", summary: "Delete; refused while derived segments reference it", scope: "write", status: 204 }),
  "segments.setStatus": op({ method: "PATCH", path: "/api/v1/segments/{segmentId}/status", tag: "Segments", summary: "Activate or deactivate", scope: "write", body: segmentStatusSchema, response: wire.segmentResponseSchema }),
  "segments.versions": op({ method: "GET", path: "/api/v1/segments/{segmentId}/versions", tag: "Segments", summary: "Every version of the definition, newest first", scope: "read", response: wire.segmentVersionsSchema }),
  "segments.members": op({ method: "GET", path: "/api/v1/segments/{segmentId}/members", tag: "Segments", summary: "Current members in user-id order (cursor `after`, user-id prefix `search`)", scope: "read", query: memberPageQuerySchema, response: wire.memberPageSchema }),
  "segments.membersCsv": op({ method: "GET", path: "/api/v1/segments/{segmentId}/members.csv", tag: "Exports", summary: "Every current member as CSV (user_id, entered_at), streamed", scope: "read", response: "csv" }),
  "segments.activity": op({ method: "GET", path: "/api/v1/segments/{segmentId}/stats", tag: "Segments", summary: "Members, entries and exits per hour", scope: "read", query: activityQuerySchema, response: wire.objectSchema }),
  "segments.batchActivity": op({ method: "GET", path: "/api/v1/segments/stats", tag: "Segments", summary: "Members, entries and exits per hour for up to 100 segments", scope: "read", query: batchActivityQuerySchema, response: wire.objectSchema }),
  "segments.estimate": op({ method: "POST", path: "/api/v1/segments/estimate", tag: "Segments", summary: "How many users a definition would match now (nothing is saved)", scope: "read", body: estimateSegmentSchema, response: wire.objectSchema }),

  // ---- events
  "events.ingest": op({ method: "POST", path: "/api/v1/events", tag: "Events", summary: "Ingest 1 to 1,000 events, all or nothing; 202 once durable", scope: "ingest", body: eventBatchSchema, bodyDoc: z.object({ events: z.array(userEventDoc).min(1).max(1000) }), status: 202, response: wire.acceptedSchema }),
  "events.ingestOne": op({ method: "POST", path: "/api/v1/events/single", tag: "Events", summary: "Ingest one event; 202 once durable", scope: "ingest", body: singleEventBodySchema, bodyDoc: userEventDoc, status: 202, response: wire.acceptedSchema }),
  "events.health": op({ method: "GET", path: "/api/v1/events/health", tag: "Events", summary: "Whether events can be accepted now (503 with Retry-After when not)", scope: "public", response: wire.ingestHealthSchema }),

  // ---- users
  "users.active": op({ method: "GET", path: "/api/v1/users", tag: "Users", summary: "Recently active users (events evaluated in the last `minutes`), most recent first", scope: "read", query: activeUsersQuerySchema, response: wire.objectSchema }),
  "users.segments": op({ method: "GET", path: "/api/v1/users/{userId}/segments", tag: "Users", summary: "The user's current segments with names and entry times", scope: "read", response: wire.userSegmentsSchema }),
  "users.history": op({ method: "GET", path: "/api/v1/users/{userId}/segments/history", tag: "Users", summary: "Entries and exits with causes, newest first", scope: "read", query: pageQuerySchema, response: wire.userHistorySchema }),
  "users.explain": op({ method: "GET", path: "/api/v1/users/{userId}/segments/{segmentId}/explain", tag: "Users", summary: "Each rule's aggregate against its threshold, or the expression tree with each node's value", scope: "read", response: wire.objectSchema }),
  "users.events": op({ method: "GET", path: "/api/v1/users/{userId}/events", tag: "Users", summary: "The user's newest events of the last 24 h", scope: "read", query: userEventsQuerySchema, response: wire.userEventsSchema }),
  "users.erase": op({ method: "DELETE", path: "/api/v1/users/{userId}", tag: "Users", summary: "Erase the user everywhere (GDPR art. 17); idempotent", scope: "admin", response: wire.objectSchema }),
  "users.export": op({ method: "GET", path: "/api/v1/users/{userId}/export", tag: "Users", summary: "Everything held about the user, as JSON (GDPR art. 15/20); audited", scope: "admin", response: wire.objectSchema }),
  "users.getProfile": op({ method: "GET", path: "/api/v1/users/{userId}/profile", tag: "Users", summary: "Email, phone, device tokens, time zone, attributes", scope: "read", response: wire.profileResponseSchema }),
  "users.putProfile": op({ method: "PUT", path: "/api/v1/users/{userId}/profile", tag: "Users", summary: "Create (201) or replace (200) the profile", scope: "write", body: profileInputSchema, response: wire.profileResponseSchema }),

  // ---- campaigns
  "campaigns.list": op({ method: "GET", path: "/api/v1/campaigns", tag: "Campaigns", summary: "Page through campaigns, filtered by status, segment and channel", scope: "read", query: listCampaignsQuerySchema, response: wire.campaignListSchema }),
  "campaigns.create": op({ method: "POST", path: "/api/v1/campaigns", tag: "Campaigns", summary: "Create a campaign (DRAFT)", scope: "write", body: createCampaignSchema, status: 201, response: wire.campaignResponseSchema }),
  "campaigns.previewDraft": op({ method: "POST", path: "/api/v1/campaigns/preview", tag: "Campaigns", summary: "Render an unsaved campaign for one user", scope: "read", body: previewDraftSchema, response: wire.objectSchema }),
  "campaigns.get": op({ method: "GET", path: "/api/v1/campaigns/{campaignId}", tag: "Campaigns", summary: "The campaign with delivery stats and runs", scope: "read", response: wire.campaignDetailSchema }),
  "campaigns.update": op({ method: "PUT", path: "/api/v1/campaigns/{campaignId}", tag: "Campaigns", summary: "Replace the definition (DRAFT or PAUSED)", scope: "write", body: updateCampaignSchema, response: wire.campaignResponseSchema }),
  "campaigns.delete": op({ method: "DELETE", path: "/api/v1/campaigns/{campaignId}", tag: "Campaigns", summary: "Delete a draft", scope: "write", status: 204 }),
  "campaigns.setStatus": op({ method: "PATCH", path: "/api/v1/campaigns/{campaignId}/status", tag: "Campaigns", summary: "ACTIVE, PAUSED or COMPLETED", scope: "write", body: campaignStatusSchema, response: wire.campaignResponseSchema }),
  "campaigns.trigger": op({ method: "POST", path: "/api/v1/campaigns/{campaignId}/trigger", tag: "Campaigns", summary: "Start a batch run now", scope: "write", status: 202, response: wire.campaignRunSchema }),
  "campaigns.preview": op({ method: "POST", path: "/api/v1/campaigns/{campaignId}/preview", tag: "Campaigns", summary: "Render the template for one user", scope: "read", body: previewCampaignSchema, response: wire.objectSchema }),
  "campaigns.analytics": op({ method: "GET", path: "/api/v1/campaigns/{campaignId}/analytics", tag: "Campaigns", summary: "Sends by status and channel over time, conversions", scope: "read", query: campaignAnalyticsQuerySchema, response: wire.objectSchema }),
  "campaigns.sends": op({ method: "GET", path: "/api/v1/campaigns/{campaignId}/sends", tag: "Campaigns", summary: "The campaign's sends, newest first", scope: "read", query: campaignSendsQuerySchema, response: wire.campaignSendsSchema }),
  "campaigns.sendsCsv": op({ method: "GET", path: "/api/v1/campaigns/{campaignId}/sends.csv", tag: "Exports", summary: "Every send of the campaign as CSV, streamed", scope: "read", response: "csv" }),

  // ---- webhooks
  "webhooks.list": op({ method: "GET", path: "/api/v1/webhooks", tag: "Webhooks", summary: "Webhook subscriptions, oldest first (cursor `after`)", scope: "read", query: webhookListQuerySchema, response: wire.webhookListSchema }),
  "webhooks.create": op({ method: "POST", path: "/api/v1/webhooks", tag: "Webhooks", summary: "Subscribe a URL to entries and/or exits of one segment or all; the secret is in this answer only", scope: "write", body: createWebhookSchema, status: 201, response: wire.webhookWithSecretSchema }),
  "webhooks.get": op({ method: "GET", path: "/api/v1/webhooks/{webhookId}", tag: "Webhooks", summary: "A subscription (never its secret), with why it is disabled if it is", scope: "read", response: wire.webhookResponseSchema }),
  "webhooks.update": op({ method: "PATCH", path: "/api/v1/webhooks/{webhookId}", tag: "Webhooks", summary: "Change fields; `enabled: true` re-enables, `secret` rotates (returned once)", scope: "write", body: updateWebhookSchema, response: wire.webhookUpdateResponseSchema }),
  "webhooks.delete": op({ method: "DELETE", path: "/api/v1/webhooks/{webhookId}", tag: "Webhooks", summary: "Delete a subscription and its delivery log", scope: "write", status: 204 }),
  "webhooks.deliveries": op({ method: "GET", path: "/api/v1/webhooks/{webhookId}/deliveries", tag: "Webhooks", summary: "The delivery log, newest first: status, attempts, response codes", scope: "read", query: deliveryListQuerySchema, response: wire.webhookDeliveriesSchema }),

  // ---- Segment-spec ingestion
  "segment.track": segmentCall("track", "/api/v1/segment/track", false),
  "segment.identify": segmentCall("identify", "/api/v1/segment/identify", false),
  "segment.batch": segmentCall("batch", "/api/v1/segment/batch", false),
  "segment.trackAlias": segmentCall("track", "/v1/track", true),
  "segment.identifyAlias": segmentCall("identify", "/v1/identify", true),
  "segment.batchAlias": segmentCall("batch", "/v1/batch", true),
  "segment.mappings": op({ method: "GET", path: "/api/v1/segment/mappings", tag: "Segment-spec ingestion", summary: "Event name → event type mappings in force, and the unmapped names seen", scope: "read", response: wire.segmentMappingsSchema }),
  "segment.putMapping": op({ method: "PUT", path: "/api/v1/segment/mappings", tag: "Segment-spec ingestion", summary: "Store a mapping (wins over SEGMENT_EVENT_MAP)", scope: "write", body: putMappingSchema, response: wire.storedMappingSchema }),
  "segment.deleteMapping": op({ method: "DELETE", path: "/api/v1/segment/mappings", tag: "Segment-spec ingestion", summary: "Forget a stored mapping", scope: "write", query: deleteMappingQuerySchema, status: 204 }),

  // ---- platform
  "stats.overview": op({ method: "GET", path: "/api/v1/stats/overview", tag: "Platform", summary: "Events/s, evaluation lag, transitions/min, sends by status, largest segments", scope: "read", response: wire.objectSchema }),
  "health.live": op({ method: "GET", path: "/api/health/live", tag: "Platform", summary: "Liveness: the process is up (no dependency is checked)", scope: "public", response: wire.objectSchema }),
  "health.ready": op({ method: "GET", path: "/api/health/ready", tag: "Platform", summary: "Readiness: the database, the event log and the membership store answer (else 503)", scope: "public", response: wire.objectSchema }),
  "metrics.scrape": op({ method: "GET", path: "/api/metrics", tag: "Platform", summary: "Prometheus exposition of this web process: Bearer METRICS_TOKEN, or a credential with the admin scope", scope: "public", response: "text" }),
  "openapi.document": op({ method: "GET", path: "/api/v1/openapi.json", tag: "Platform", summary: "This document (OpenAPI 3.1)", scope: "public", response: wire.objectSchema }),

  // ---- administration
  "admin.users": op({ method: "GET", path: "/api/v1/admin/users", tag: "Administration", summary: "The UI's accounts", scope: "admin", response: wire.objectSchema }),
  "admin.inviteUser": op({ method: "POST", path: "/api/v1/admin/users", tag: "Administration", summary: "Invite: creates an account with a one-time password shown once", scope: "admin", body: inviteUserSchema, status: 201, response: wire.objectSchema }),
  "admin.updateUser": op({ method: "PATCH", path: "/api/v1/admin/users/{userId}", tag: "Administration", summary: "Change role or name, disable or re-enable", scope: "admin", body: updateUserSchema, response: wire.objectSchema }),
  "admin.apiKeys": op({ method: "GET", path: "/api/v1/admin/api-keys", tag: "Administration", summary: "API keys with scopes, creator, last use and revocation (never the key)", scope: "admin", response: wire.objectSchema }),
  "admin.createApiKey": op({ method: "POST", path: "/api/v1/admin/api-keys", tag: "Administration", summary: "Create an API key; the key is in this answer only", scope: "admin", body: createApiKeySchema, status: 201, response: wire.apiKeyCreatedSchema }),
  "admin.revokeApiKey": op({ method: "DELETE", path: "/api/v1/admin/api-keys/{keyId}", tag: "Administration", summary: "Revoke an API key", scope: "admin", response: wire.objectSchema }),
  "admin.rewrapPersonalData": op({ method: "POST", path: "/api/v1/admin/privacy/rewrap", tag: "Administration", summary: "Re-encrypt personal data under the current PII key (after a rotation)", scope: "admin", response: wire.objectSchema }),
  "audit.list": op({ method: "GET", path: "/api/v1/audit", tag: "Administration", summary: "The audit log, newest first", scope: "admin", query: auditQuerySchema, response: wire.objectSchema }),
  "me.password": op({ method: "POST", path: "/api/v1/me/password", tag: "Administration", summary: "A signed-in person changes their own password (UI session only)", scope: "read", body: changePasswordSchema, status: 204 }),
} as const satisfies Record<string, ApiOperation>;

export type Operations = typeof operations;
export type OperationId = keyof Operations;

/**
 * Route files that are not part of the REST API this document describes: next-auth's own
 * endpoints (sign-in, session, CSRF) are the UI's.
 */
export const UNDOCUMENTED_ROUTES = ["/api/auth/{...nextauth}"];
