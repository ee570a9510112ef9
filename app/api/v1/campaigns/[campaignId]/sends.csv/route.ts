import { csvResponse } from "@/lib/http/csv";
import { route, uuidParam } from "@/lib/http/route";
import { exportCampaignSends } from "@/lib/services/exports";

// GET /api/v1/campaigns/{id}/sends.csv — every send of the campaign with status and reason, streamed page by page
export const GET = route({ scope: "read" }, async ({ params, rt }) =>
  csvResponse(await exportCampaignSends(rt.integrations.exports, uuidParam(params, "campaignId", "Campaign"))),
);
