import { randomUUID } from "node:crypto";
import { AppError, notFound, validationError } from "@/lib/errors";
import {
  checkSchedule,
  statusTransitionError,
  type ChannelType,
  type CreateCampaignInput,
  type ListCampaignsQuery,
  type UpdateCampaignInput,
} from "@/lib/campaigns/campaign";
import type { Campaign, CampaignStore, CampaignTx } from "@/lib/ports/campaigns";
import type { RequestContext } from "./context";

export interface CampaignDeps {
  campaigns: CampaignStore;
  /** Channels with a configured provider (email: SMTP, push: VAPID, sms: Twilio-compatible). */
  channels: ReadonlySet<ChannelType>;
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

// GET /api/v1/campaigns/{id}: with delivery stats.
export async function getCampaign(deps: CampaignDeps, id: string) {
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw notFound("Campaign", id);
  return { ...campaign, delivery: await deps.campaigns.deliveryStats(id) };
}

// GET /api/v1/campaigns
export async function listCampaigns(deps: CampaignDeps, query: ListCampaignsQuery) {
  const { items, total } = await deps.campaigns.list(query);
  return {
    data: items,
    pagination: { page: query.page, pageSize: query.pageSize, total, totalPages: Math.max(1, Math.ceil(total / query.pageSize)) },
  };
}
