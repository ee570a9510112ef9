import { json, route } from "@/lib/http/route";
import { createCampaignSchema, listCampaignsQuerySchema } from "@/lib/campaigns/campaign";
import { createCampaign, listCampaigns } from "@/lib/services/campaigns";

// GET /api/v1/campaigns — page through campaigns, filtered by status, segment and channel
export const GET = route({ scope: "read", query: listCampaignsQuerySchema }, async ({ query, rt }) =>
  json(await listCampaigns(rt.campaignDeps, query)),
);

// POST /api/v1/campaigns — create a campaign (always DRAFT)
export const POST = route({ scope: "write", body: createCampaignSchema }, async ({ body, actor, traceId, now, rt }) =>
  json(await createCampaign(rt.campaignDeps, body, { actor: actor.id, traceId, now }), 201),
);
