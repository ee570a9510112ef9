import { json, route, uuidParam } from "@/lib/http/route";
import { previewCampaignSchema } from "@/lib/campaigns/campaign";
import { previewCampaign } from "@/lib/services/campaigns";

// POST /api/v1/campaigns/{id}/preview — render the template for one user ({"userId"})
export const POST = route({ scope: "read", body: previewCampaignSchema }, async ({ params, body, rt }) =>
  json(await previewCampaign({ ...rt.campaignDeps, profiles: rt.profiles, segments: rt.segments }, uuidParam(params, "campaignId", "Campaign"), body.userId)),
);
