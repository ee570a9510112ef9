import { json, route, uuidParam } from "@/lib/http/route";
import { campaignSendsQuerySchema } from "@/lib/campaigns/campaign";
import { campaignSends } from "@/lib/services/campaigns";

// GET /api/v1/campaigns/{id}/sends — the campaign's sends, newest first (`limit`, cursor `before`, `status`)
export const GET = route({ scope: "read", query: campaignSendsQuerySchema }, async ({ params, query, rt }) =>
  json(await campaignSends(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), query)),
);
