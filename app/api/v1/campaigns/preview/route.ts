import { json, route } from "@/lib/http/route";
import { previewDraftSchema } from "@/lib/campaigns/campaign";
import { previewDraft } from "@/lib/services/campaigns";

// POST /api/v1/campaigns/preview — render an unsaved campaign (channel, subject, template) for one user
export const POST = route({ scope: "read", body: previewDraftSchema }, async ({ body, rt }) =>
  json(await previewDraft({ ...rt.campaignDeps, profiles: rt.profiles, segments: rt.segments }, body)),
);
