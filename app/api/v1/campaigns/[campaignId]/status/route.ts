import { json, route, uuidParam } from "@/lib/http/route";
import { campaignStatusSchema } from "@/lib/campaigns/campaign";
import { setCampaignStatus } from "@/lib/services/campaigns";

// PATCH /api/v1/campaigns/{id}/status — ACTIVE | PAUSED | COMPLETED
export const PATCH = route({ scope: "write", body: campaignStatusSchema }, async ({ params, body, actor, traceId, now, rt }) =>
  json(await setCampaignStatus(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), body.status, { actor: actor.id, traceId, now })),
);
