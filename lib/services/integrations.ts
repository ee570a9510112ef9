import type { CampaignStore } from "@/lib/ports/campaigns";
import type { SendExportStore } from "@/lib/ports/exports";
import type { MembershipStore } from "@/lib/ports/memberships";
import type { SegmentStore } from "@/lib/ports/segments";
import type { SegmentIngestDeps } from "./segment-ingest";
import type { WebhookDeps } from "./webhooks";

/** The deps of the integration use cases (Segment-spec ingestion, webhooks, CSV exports). */
export interface IntegrationDeps {
  segmentIngest: SegmentIngestDeps;
  webhooks: WebhookDeps;
  exports: {
    segments: Pick<SegmentStore, "get">;
    memberships: Pick<MembershipStore, "members">;
    campaigns: Pick<CampaignStore, "get">;
    sendExport: SendExportStore;
  };
}
