import { json, route, uuidParam } from "@/lib/http/route";
import { updateCampaignSchema } from "@/lib/campaigns/campaign";
import { deleteCampaign, getCampaign, updateCampaign } from "@/lib/services/campaigns";

// GET /api/v1/campaigns/{id} — the campaign with its delivery stats
export const GET = route({ scope: "read" }, async ({ params, rt }) =>
  json(await getCampaign(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"))),
);

// PUT /api/v1/campaigns/{id} — replace the definition (DRAFT or PAUSED)
export const PUT = route({ scope: "write", body: updateCampaignSchema }, async ({ params, body, actor, traceId, now, rt }) =>
  json(await updateCampaign(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), body, { actor: actor.id, traceId, now })),
);

// DELETE /api/v1/campaigns/{id} — drafts only
export const DELETE = route({ scope: "write" }, async ({ params, actor, traceId, now, rt }) => {
  await deleteCampaign(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), { actor: actor.id, traceId, now });
  return json(null, 204);
});
