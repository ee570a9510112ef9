import { z } from "zod";
import { assertNever } from "@/lib/segments/expression";
import type { FieldIssue } from "@/lib/errors";
import { listSegmentsQuerySchema } from "@/lib/segments/definition";
import { campaignPolicySchema, objectError } from "./policy";
import { checkTemplateAgainstSchema, type TemplateIssue } from "./template";

/**
 * Campaigns as the REST API accepts them (seed §4.2, camelCase). Pure: no I/O.
 * The schema and its type come in pairs: `createCampaignSchema` / `CreateCampaignInput`.
 */
export const channelTypes = ["email", "push", "sms"] as const;
export const campaignTriggers = ["ON_ENTER", "ON_EXIT", "BATCH"] as const;
export const campaignStatuses = ["DRAFT", "ACTIVE", "PAUSED", "COMPLETED"] as const;
/** The statuses a client may ask for; DRAFT is only ever the starting point. */
export const targetStatuses = ["ACTIVE", "PAUSED", "COMPLETED"] as const;

export type ChannelType = (typeof channelTypes)[number];
export type CampaignTrigger = (typeof campaignTriggers)[number];
export type CampaignStatus = (typeof campaignStatuses)[number];

export const MAX_TEMPLATE_LENGTH = 100_000;
export const MAX_SUBJECT_LENGTH = 500;
/** A template with more problems than this reports the first ones: enough to start fixing. */
const MAX_TEMPLATE_ISSUES = 20;

const enumMessage = (values: readonly string[]) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be one of ${values.join(", ")}`),
});
const stringError = { error: (i: { input?: unknown }) => (i.input === undefined ? "is required" : "must be a string") };

// Any hex UUID, as path ids are matched (lib/http/route.ts), lower-cased as ids are stored.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuidSchema = z
  .string(stringError)
  .regex(UUID, { message: "must be a UUID" })
  .transform((s) => s.toLowerCase());

/**
 * Adds one issue per template problem to the field being refined, with its location in the
 * message. Runs the schema check, not only the parser: `{{user.nmae}}` can never resolve, and
 * saying so when the campaign is written beats saying so at activation.
 */
function templateIssues(text: string, ctx: z.RefinementCtx): void {
  const issues: TemplateIssue[] = checkTemplateAgainstSchema(text);
  for (const issue of issues.slice(0, MAX_TEMPLATE_ISSUES)) {
    ctx.addIssue({
      code: "custom",
      message: `${issue.message} at position ${issue.position} (line ${issue.line}, column ${issue.column})`,
      params: { kind: issue.kind, variable: issue.path, position: issue.position, line: issue.line, column: issue.column },
    });
  }
}

const nameSchema = z
  .string(stringError)
  .trim()
  .min(1, { message: "must not be empty" })
  .max(200, { message: "must be at most 200 characters" });

const subjectSchema = z
  .string({ error: "must be a string" })
  .trim()
  .superRefine((s, ctx) => {
    if (s === "") return ctx.addIssue({ code: "custom", message: "must not be empty" });
    if (s.length > MAX_SUBJECT_LENGTH) return ctx.addIssue({ code: "custom", message: `must be at most ${MAX_SUBJECT_LENGTH} characters` });
    // A line break in a subject is the start of a header injection; refuse it in the template
    // itself (values are stripped of them at render time).
    if (/[\r\n]/.test(s)) return ctx.addIssue({ code: "custom", message: "must be a single line" });
    templateIssues(s, ctx);
  });

// Length and parse checks in one refinement, so a 2 MB template is refused for its size without
// being parsed, and an empty one gets one message, not two.
const templateSchema = z.string(stringError).superRefine((t, ctx) => {
  if (t.trim() === "") return ctx.addIssue({ code: "custom", message: "must not be empty" });
  if (t.length > MAX_TEMPLATE_LENGTH) return ctx.addIssue({ code: "custom", message: `must be at most ${MAX_TEMPLATE_LENGTH} characters` });
  templateIssues(t, ctx);
});

// zod's pattern also refuses impossible dates (2030-02-30) and a missing zone.
const scheduledAtSchema = z
  .iso.datetime({
    offset: true,
    error: "must be an ISO-8601 date-time with a time zone, like 2030-01-31T09:00:00Z or 2030-01-31T10:00:00+01:00",
  })
  .transform((s) => new Date(s).toISOString());

const campaignBodySchema = z
  .object(
    {
      name: nameSchema,
      segmentId: uuidSchema,
      channelType: z.enum(channelTypes, enumMessage(channelTypes)),
      trigger: z.enum(campaignTriggers, enumMessage(campaignTriggers)),
      subject: subjectSchema.nullable().optional(),
      template: templateSchema,
      scheduledAt: scheduledAtSchema.nullable().optional(),
      policy: campaignPolicySchema.default({}),
      // Accepted only to be refused with a message that says where status changes go; the
      // generic "unrecognized key" would not.
      status: z.unknown().optional(),
    },
    { error: objectError },
  )
  .strict()
  .superRefine((c, ctx) => {
    if (c.status !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["status"],
        message: "cannot be set here: a campaign starts as DRAFT; change it with PATCH /api/v1/campaigns/{id}/status",
      });
    }
    const hasSubject = c.subject !== undefined && c.subject !== null;
    if (c.channelType === "email" && !hasSubject) {
      ctx.addIssue({ code: "custom", path: ["subject"], message: "is required for an email campaign" });
    }
    if (c.channelType !== "email" && hasSubject) {
      ctx.addIssue({ code: "custom", path: ["subject"], message: "only an email campaign takes a subject" });
    }
    const hasSchedule = c.scheduledAt !== undefined && c.scheduledAt !== null;
    if (c.trigger !== "BATCH" && hasSchedule) {
      ctx.addIssue({ code: "custom", path: ["scheduledAt"], message: "only a BATCH campaign takes scheduledAt" });
    }
  })
  .transform((c) => ({
    name: c.name,
    segmentId: c.segmentId,
    channelType: c.channelType,
    trigger: c.trigger,
    subject: c.subject ?? null,
    template: c.template,
    /** Canonical UTC ISO-8601; null for a BATCH campaign run by hand (POST /{id}/trigger). */
    scheduledAt: c.scheduledAt ?? null,
    policy: c.policy,
  }));

/**
 * POST /api/v1/campaigns. The status is always DRAFT on create. `checkSchedule` must follow,
 * with the request's clock: whether `scheduledAt` is in the future is not a schema question.
 */
export const createCampaignSchema = campaignBodySchema;
export type CreateCampaignInput = z.output<typeof createCampaignSchema>;
/** PUT /api/v1/campaigns/{id}: the same full definition, replacing the old one (absent fields clear). */
export const updateCampaignSchema = campaignBodySchema;
export type UpdateCampaignInput = z.output<typeof updateCampaignSchema>;

/** The schedule check that needs a clock: a BATCH `scheduledAt` must be after `nowMs`. */
export function checkSchedule(input: Pick<CreateCampaignInput, "trigger" | "scheduledAt">, nowMs: number): FieldIssue | null {
  if (input.trigger !== "BATCH" || input.scheduledAt === null) return null;
  if (Date.parse(input.scheduledAt) <= nowMs) {
    return { field: "scheduledAt", reason: `must be in the future (it is ${new Date(nowMs).toISOString()} now)` };
  }
  return null;
}

/** PATCH /api/v1/campaigns/{id}/status. */
export const campaignStatusSchema = z
  .object({ status: z.enum(targetStatuses, enumMessage(targetStatuses)) }, { error: objectError })
  .strict();
export type CampaignStatusInput = z.output<typeof campaignStatusSchema>;

/**
 * Why a campaign may not go from `from` to `to`, or null when it may. The lifecycle:
 * DRAFT → ACTIVE; ACTIVE ⇄ PAUSED; ACTIVE or PAUSED → COMPLETED; COMPLETED is final. Asking
 * for the current status is a no-op (null), so a retried PATCH succeeds.
 */
export function statusTransitionError(from: CampaignStatus, to: CampaignStatus): string | null {
  if (from === to) return null;
  if (to === "DRAFT") return "a campaign cannot go back to DRAFT";
  switch (from) {
    case "DRAFT":
      return to === "ACTIVE" ? null : `a DRAFT campaign can only be activated (not ${to})`;
    case "ACTIVE":
      return null; // → PAUSED or COMPLETED
    case "PAUSED":
      return null; // → ACTIVE or COMPLETED
    case "COMPLETED":
      return "a COMPLETED campaign is final";
    default:
      return assertNever(from);
  }
}

/** GET /api/v1/campaigns: paging as for segments, filters by status, segment and channel. */
export const listCampaignsQuerySchema = z.object({
  page: listSegmentsQuerySchema.shape.page,
  pageSize: listSegmentsQuerySchema.shape.pageSize,
  status: z.enum(campaignStatuses, enumMessage(campaignStatuses)).optional(),
  segmentId: uuidSchema.optional(),
  channelType: z.enum(channelTypes, enumMessage(channelTypes)).optional(),
});
export type ListCampaignsQuery = z.output<typeof listCampaignsQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Idempotency keys

// Each part is percent-encoded, so the ':' separator never occurs inside a part and no two
// different tuples give the same key (transition ids themselves contain '|').
const part = (name: string, value: string): string => {
  if (value === "") throw new RangeError(`${name} must not be empty`);
  return encodeURIComponent(value);
};

/**
 * The idempotency key of a triggered send (ON_ENTER / ON_EXIT): one message per campaign, user
 * and membership transition, however often the transition is redelivered. A user who leaves and
 * re-enters makes a new transition, so a new send.
 */
export function sendKey(k: { campaignId: string; userId: string; transitionId: string }): string {
  return `send:${part("campaignId", k.campaignId)}:${part("userId", k.userId)}:${part("transitionId", k.transitionId)}`;
}

/** The idempotency key of a batch send: one message per campaign, run and user. */
export function batchSendKey(k: { campaignId: string; runId: string; userId: string }): string {
  return `batch:${part("campaignId", k.campaignId)}:${part("runId", k.runId)}:${part("userId", k.userId)}`;
}

/** POST /api/v1/campaigns/{id}/preview: render for one user. */
export const previewCampaignSchema = z.object({ userId: z.string(stringError).trim().min(1, { message: "must not be empty" }).max(256) }).strict();
export type PreviewCampaignInput = z.output<typeof previewCampaignSchema>;

/**
 * POST /api/v1/campaigns/preview: render a campaign that is not saved (yet) for one user, so the
 * editor can preview as the author types. The same template and subject checks as a save.
 */
export const previewDraftSchema = z
  .object(
    {
      userId: previewCampaignSchema.shape.userId,
      name: z.string({ error: "must be a string" }).trim().max(200, { message: "must be at most 200 characters" }).optional(),
      segmentId: uuidSchema.nullable().optional(),
      channelType: z.enum(channelTypes, enumMessage(channelTypes)),
      subject: subjectSchema.nullable().optional(),
      template: templateSchema,
    },
    { error: objectError },
  )
  .strict()
  .superRefine((c, ctx) => {
    if (c.channelType === "email" && (c.subject === undefined || c.subject === null)) {
      ctx.addIssue({ code: "custom", path: ["subject"], message: "is required for an email campaign" });
    }
  });
export type PreviewDraftInput = z.output<typeof previewDraftSchema>;

/** GET /api/v1/campaigns/{id}/sends: newest first, cursor `before` (a send id), optional status. */
export const campaignSendsQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(200, { message: "must be at most 200" })
    .default(50),
  before: z.coerce.number({ error: "must be a number" }).int({ message: "must be a whole number" }).min(1).optional(),
  status: z.enum(["queued", "sending", "sent", "failed", "skipped"], enumMessage(["queued", "sending", "sent", "failed", "skipped"])).optional(),
});
export type CampaignSendsQuery = z.output<typeof campaignSendsQuerySchema>;

/** GET /api/v1/campaigns/{id}/analytics */
export const campaignAnalyticsQuerySchema = z.object({
  bucket: z.enum(["hour", "day"], enumMessage(["hour", "day"])).default("hour"),
  /** How long after a send an `orders` event counts as a conversion. */
  conversionWindowHours: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(720, { message: "must be at most 720" })
    .default(24),
  /** Look-back of the time series, in days. */
  days: z.coerce.number({ error: "must be a number" }).int().min(1).max(90, { message: "must be at most 90" }).default(7),
});
export type CampaignAnalyticsQuery = z.output<typeof campaignAnalyticsQuerySchema>;
