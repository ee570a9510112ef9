import { randomUUID } from "node:crypto";
import { AppError, notFound, validationError } from "@/lib/errors";
import {
  checkSchedule,
  statusTransitionError,
  type ChannelType,
  type CampaignAnalyticsQuery,
  type CampaignSendsQuery,
  type PreviewDraftInput,
  type CreateCampaignInput,
  type ListCampaignsQuery,
  type UpdateCampaignInput,
} from "@/lib/campaigns/campaign";
import type { Campaign, CampaignStore, CampaignTx } from "@/lib/ports/campaigns";
import type { ProfileStore } from "@/lib/ports/profiles";
import type { RunStore } from "@/lib/ports/runs";
import type { SegmentStore } from "@/lib/ports/segments";
import { renderEmail, renderTemplate, TemplateError, type TemplateContext } from "@/lib/campaigns/template";
import type { RequestContext } from "./context";

export interface CampaignDeps {
  campaigns: CampaignStore;
  /** Channels with a configured provider (email: SMTP, push: VAPID, sms: Twilio-compatible). */
  channels: ReadonlySet<ChannelType>;
  /** Batch runs (the dispatchers pick due runs up from here). */
  runs?: RunStore;
  /** Wakes the dispatchers (campaign-triggers) after a run is created; they claim it from the store. */
  notifyRun?: (runId: string, campaignId: string) => Promise<void>;
}

const snapshot = (c: Campaign) => ({ ...c, createdAt: undefined, updatedAt: undefined });

async function assertLiveSegment(tx: CampaignTx, segmentId: string) {
  const segment = await tx.segment(segmentId);
  if (!segment || segment.deleted) {
    throw validationError([{ field: "segmentId", reason: segment ? "the segment is deleted" : "unknown segment" }]);
  }
  return segment;
}

function assertSchedule(input: CreateCampaignInput, now: Date) {
  const issue = checkSchedule(input, now.getTime());
  if (issue) throw validationError([issue]);
}

// POST /api/v1/campaigns: always created as DRAFT.
export async function createCampaign(deps: CampaignDeps, input: CreateCampaignInput, ctx: RequestContext): Promise<Campaign> {
  assertSchedule(input, ctx.now);
  return deps.campaigns.transaction(async (tx) => {
    await assertLiveSegment(tx, input.segmentId);
    const campaign: Campaign = {
      id: randomUUID(),
      ...input,
      scheduledAt: input.scheduledAt ? new Date(input.scheduledAt) : null,
      status: "DRAFT",
      version: 1,
      createdBy: ctx.actor,
      createdAt: ctx.now,
      updatedAt: ctx.now,
    };
    await tx.insert(campaign);
    await tx.audit({
      actor: ctx.actor,
      action: "campaign.create",
      entityType: "campaign",
      entityId: campaign.id,
      before: null,
      after: snapshot(campaign),
      traceId: ctx.traceId,
      at: ctx.now,
    });
    return campaign;
  });
}

// PUT /api/v1/campaigns/{id}: a full replacement; a running (ACTIVE) campaign must be paused
// first, and a COMPLETED one is final.
export async function updateCampaign(
  deps: CampaignDeps,
  id: string,
  input: UpdateCampaignInput,
  ctx: RequestContext,
): Promise<Campaign> {
  assertSchedule(input, ctx.now);
  return deps.campaigns.transaction(async (tx) => {
    const before = await tx.getForUpdate(id);
    if (!before) throw notFound("Campaign", id);
    if (before.status === "ACTIVE" || before.status === "COMPLETED") {
      throw new AppError("CONFLICT", `An ${before.status} campaign cannot be edited${before.status === "ACTIVE" ? "; pause it first" : ""}`, {
        field: "status",
        reason: `is ${before.status}`,
      });
    }
    await assertLiveSegment(tx, input.segmentId);
    const after: Campaign = {
      ...before,
      ...input,
      scheduledAt: input.scheduledAt ? new Date(input.scheduledAt) : null,
      version: before.version + 1,
      updatedAt: ctx.now,
    };
    await tx.update(after);
    await tx.audit({
      actor: ctx.actor,
      action: "campaign.update",
      entityType: "campaign",
      entityId: id,
      before: snapshot(before),
      after: snapshot(after),
      traceId: ctx.traceId,
      at: ctx.now,
    });
    return after;
  });
}

// PATCH /api/v1/campaigns/{id}/status: DRAFT → ACTIVE ⇄ PAUSED → COMPLETED. Activation needs a
// live segment and a configured provider for the channel (409 with the reason otherwise).
export async function setCampaignStatus(
  deps: CampaignDeps,
  id: string,
  status: "ACTIVE" | "PAUSED" | "COMPLETED",
  ctx: RequestContext,
): Promise<Campaign> {
  return deps.campaigns.transaction(async (tx) => {
    const before = await tx.getForUpdate(id);
    if (!before) throw notFound("Campaign", id);
    if (before.status === status) return before;
    const refused = statusTransitionError(before.status, status);
    if (refused) throw new AppError("CONFLICT", refused, { field: "status", reason: refused });
    if (status === "ACTIVE") {
      const segment = await tx.segment(before.segmentId);
      if (!segment || segment.deleted) {
        throw new AppError("CONFLICT", "The campaign's segment is deleted; point it at another segment first", {
          field: "segmentId",
          reason: "segment deleted",
        });
      }
      if (!deps.channels.has(before.channelType)) {
        throw new AppError("CONFLICT", `No ${before.channelType} provider is configured on this platform`, {
          field: "channelType",
          reason: `no ${before.channelType} provider configured`,
        });
      }
    }
    const after: Campaign = { ...before, status, version: before.version + 1, updatedAt: ctx.now };
    await tx.update(after);
    if (status === "ACTIVE" && before.status === "DRAFT" && after.trigger === "BATCH" && after.scheduledAt && deps.runs) {
      // A scheduled batch campaign runs once, at its time. Inside the transaction: a run created
      // on another connection would wait for the campaign row locked above (its foreign key), and
      // on PGlite's single connection for the transaction itself — a deadlock either way.
      await tx.scheduleRun({ campaignId: id, requestedBy: ctx.actor, scheduledAt: after.scheduledAt });
    }
    await tx.audit({
      actor: ctx.actor,
      action: `campaign.status.${status.toLowerCase()}`,
      entityType: "campaign",
      entityId: id,
      before: { status: before.status, version: before.version },
      after: { status: after.status, version: after.version },
      traceId: ctx.traceId,
      at: ctx.now,
    });
    return after;
  });
}

// DELETE /api/v1/campaigns/{id}: drafts only; a campaign that has run keeps its history.
export async function deleteCampaign(deps: CampaignDeps, id: string, ctx: RequestContext): Promise<void> {
  await deps.campaigns.transaction(async (tx) => {
    const before = await tx.getForUpdate(id);
    if (!before) throw notFound("Campaign", id);
    if (before.status !== "DRAFT") {
      throw new AppError("CONFLICT", "Only a DRAFT campaign can be deleted; complete it instead", {
        field: "status",
        reason: `is ${before.status}`,
      });
    }
    await tx.delete(id);
    await tx.audit({
      actor: ctx.actor,
      action: "campaign.delete",
      entityType: "campaign",
      entityId: id,
      before: snapshot(before),
      after: null,
      traceId: ctx.traceId,
      at: ctx.now,
    });
  });
}

// GET /api/v1/campaigns/{id}: with delivery stats and the progress of its batch runs.
export async function getCampaign(deps: CampaignDeps, id: string) {
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  const runs = deps.runs ? await deps.runs.ofCampaign(id, 20) : [];
  return {
    ...campaign,
    delivery: await deps.campaigns.deliveryStats(id),
    runs: await Promise.all(runs.map((r) => runWithProgress(deps.runs!, r))),
  };
}

async function runWithProgress(runs: RunStore, run: NonNullable<Awaited<ReturnType<RunStore["get"]>>>) {
  const p = await runs.progress(run.id);
  const done = p.sent + p.skipped + p.failed;
  return { ...run, progress: { ...p, remaining: run.total === null ? null : Math.max(0, run.total - done) } };
}

// POST /api/v1/campaigns/{id}/trigger: start a batch run now (ACTIVE BATCH campaigns only).
export async function triggerCampaign(deps: CampaignDeps, id: string, ctx: RequestContext) {
  if (!deps.runs) throw new AppError("SERVICE_UNAVAILABLE", "Batch runs are not available");
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  if (campaign.trigger !== "BATCH") {
    throw new AppError("CONFLICT", `A ${campaign.trigger} campaign sends on transitions, not in batch runs`, {
      field: "trigger",
      reason: "not a BATCH campaign",
    });
  }
  if (campaign.status !== "ACTIVE") {
    throw new AppError("CONFLICT", `Activate the campaign first (it is ${campaign.status})`, { field: "status", reason: `is ${campaign.status}` });
  }
  const run = await deps.runs.create({ campaignId: id, requestedBy: ctx.actor, scheduledAt: ctx.now });
  // Best effort: a dispatcher that misses the wake-up finds the run on its next poll.
  await deps.notifyRun?.(run.id, id).catch(() => {});
  return runWithProgress(deps.runs, run);
}

// GET /api/v1/campaigns
export async function listCampaigns(deps: CampaignDeps, query: ListCampaignsQuery) {
  const { items, total } = await deps.campaigns.list(query);
  return {
    data: items,
    pagination: { page: query.page, pageSize: query.pageSize, total, totalPages: Math.max(1, Math.ceil(total / query.pageSize)) },
  };
}

type PreviewDeps = CampaignDeps & { profiles: ProfileStore; segments: Pick<SegmentStore, "names"> };
type Renderable = Pick<Campaign, "name" | "channelType" | "subject" | "template"> & { segmentId: string | null };

/** The message as this user would get it, or a 400 naming why it cannot be rendered. */
async function renderForUser(deps: PreviewDeps, campaign: Renderable, userId: string) {
  const profile = await deps.profiles.get(userId);
  if (!profile) throw notFound("Profile of user", userId);
  const names = campaign.segmentId ? await deps.segments.names([campaign.segmentId]) : new Map<string, string>();
  const context: TemplateContext = {
    user: { email: profile.email, phone: profile.phone, attributes: profile.attributes },
    segment: { name: campaign.segmentId ? (names.get(campaign.segmentId) ?? null) : null },
    campaign: { name: campaign.name },
  };
  try {
    if (campaign.channelType === "email") {
      return { userId, channel: campaign.channelType, to: profile.email, ...renderEmail({ subject: campaign.subject ?? campaign.name, template: campaign.template }, context) };
    }
    const body = renderTemplate(campaign.template, context, { escape: "none" });
    return { userId, channel: campaign.channelType, to: campaign.channelType === "sms" ? profile.phone : null, body };
  } catch (error) {
    if (error instanceof TemplateError) {
      throw new AppError("VALIDATION_ERROR", `The template cannot be rendered for this user: ${error.message}`, {
        field: "userId",
        reason: error.message,
      });
    }
    throw error;
  }
}

// POST /api/v1/campaigns/{id}/preview: the message as this user would get it, or why not.
export async function previewCampaign(deps: PreviewDeps, id: string, userId: string) {
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  return { campaignId: id, ...(await renderForUser(deps, campaign, userId)) };
}

// POST /api/v1/campaigns/preview: an unsaved draft (the editor's live preview), rendered the
// same way; the template was checked by the schema like a save would.
export async function previewDraft(deps: PreviewDeps, input: PreviewDraftInput) {
  const draft: Renderable = {
    name: input.name || "Untitled campaign",
    channelType: input.channelType,
    subject: input.subject ?? null,
    template: input.template,
    segmentId: input.segmentId ?? null,
  };
  return { campaignId: null, ...(await renderForUser(deps, draft, input.userId)) };
}

// GET /api/v1/campaigns/{id}/sends: newest first, paged by send id.
export async function campaignSends(deps: CampaignDeps, id: string, query: CampaignSendsQuery) {
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  const { items, next } = await deps.campaigns.sends(id, query);
  return { campaignId: id, data: items, next };
}

// GET /api/v1/campaigns/{id}/analytics
export async function campaignAnalytics(deps: CampaignDeps, id: string, query: CampaignAnalyticsQuery, now: Date) {
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  const since = new Date(now.getTime() - query.days * 24 * 3600_000);
  const [delivery, analytics] = await Promise.all([
    deps.campaigns.deliveryStats(id),
    deps.campaigns.analytics(id, { bucket: query.bucket, since, conversionWindowMs: query.conversionWindowHours * 3600_000 }),
  ]);
  const { sent, converted } = analytics.conversions;
  return {
    campaignId: id,
    delivery,
    bucket: query.bucket,
    since,
    series: analytics.series,
    conversions: { windowHours: query.conversionWindowHours, sent, converted, rate: sent > 0 ? converted / sent : null },
  };
}
