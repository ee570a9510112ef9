import type { CampaignStatus, ChannelType, CampaignTrigger, ListCampaignsQuery } from "@/lib/campaigns/campaign";
import type { CampaignPolicy } from "@/lib/campaigns/policy";
import type { AuditEntry } from "@/lib/ports/segments";

/** Seed §4.2 Campaign, as stored and returned. */
export interface Campaign {
  id: string;
  name: string;
  segmentId: string;
  channelType: ChannelType;
  trigger: CampaignTrigger;
  subject: string | null;
  template: string;
  status: CampaignStatus;
  scheduledAt: Date | null;
  policy: CampaignPolicy;
  version: number;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One send as the campaign detail page lists it. */
export interface CampaignSendView {
  id: number;
  userId: string;
  channel: ChannelType;
  runId: string | null;
  status: "queued" | "sending" | "sent" | "failed" | "skipped";
  reason: string | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
  nextAttemptAt: Date | null;
}

export interface DeliveryStats {
  byStatus: Record<"queued" | "sending" | "sent" | "failed" | "skipped", number>;
  total: number;
}

/** What a campaign change may do inside its transaction. */
export interface CampaignTx {
  /** The campaign, locked for the rest of the transaction. */
  getForUpdate(id: string): Promise<Campaign | null>;
  /** The segment a campaign targets, with whether it is deleted; null when unknown. */
  segment(id: string): Promise<{ id: string; name: string; active: boolean; deleted: boolean } | null>;
  insert(campaign: Campaign): Promise<void>;
  update(campaign: Campaign): Promise<void>;
  delete(id: string): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  /**
   * Schedules a batch run of the campaign in this transaction (activation of a scheduled BATCH
   * campaign): committed together with the status, and never blocked by the row lock above.
   */
  scheduleRun(run: { campaignId: string; requestedBy: string; scheduledAt: Date }): Promise<void>;
}

export interface CampaignStore {
  transaction<T>(fn: (tx: CampaignTx) => Promise<T>): Promise<T>;
  get(id: string): Promise<Campaign | null>;
  list(query: ListCampaignsQuery): Promise<{ items: Campaign[]; total: number }>;
  deliveryStats(id: string): Promise<DeliveryStats>;
  /** The campaign's sends, newest first (by id), below the cursor `before`; optionally of one status. */
  sends(
    id: string,
    page: { before?: number; limit: number; status?: CampaignSendView["status"] },
  ): Promise<{ items: CampaignSendView[]; next: number | null }>;
  /**
   * Sends per time bucket and status, by channel, since `since`; and how many sent messages were
   * followed by an `orders` event of the same user within `conversionWindowMs`.
   */
  analytics(
    id: string,
    options: { bucket: "hour" | "day"; since: Date; conversionWindowMs: number },
  ): Promise<{
    series: { bucket: Date; channel: string; status: string; count: number }[];
    conversions: { sent: number; converted: number };
  }>;
  /** ACTIVE campaigns of these segments with one of these triggers (the dispatcher's lookup). */
  activeFor(segmentIds: readonly string[], triggers: readonly CampaignTrigger[]): Promise<Campaign[]>;
}
