import { json, route, uuidParam } from "@/lib/http/route";
import { campaignAnalyticsQuerySchema } from "@/lib/campaigns/campaign";
import { campaignAnalytics } from "@/lib/services/campaigns";

// GET /api/v1/campaigns/{id}/analytics — sends by status and channel over time, conversions
export const GET = route({ scope: "read", query: campaignAnalyticsQuerySchema }, async ({ params, query, now, rt }) =>
  json(await campaignAnalytics(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), query, now)),
);
