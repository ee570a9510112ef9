import { json, route, uuidParam } from "@/lib/http/route";
import { triggerCampaign } from "@/lib/services/campaigns";

// POST /api/v1/campaigns/{id}/trigger — start a batch run now (202 with the run)
export const POST = route({ scope: "write" }, async ({ params, actor, traceId, now, rt }) =>
  json(await triggerCampaign(rt.campaignDeps, uuidParam(params, "campaignId", "Campaign"), { actor: actor.id, traceId, now }), 202),
);
