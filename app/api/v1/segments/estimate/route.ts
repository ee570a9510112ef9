import { json, route } from "@/lib/http/route";
import { estimateSegmentSchema } from "@/lib/segments/insights";
import { estimateSegment } from "@/lib/services/segment-insights";

// POST /api/v1/segments/estimate — how many users a definition would match now (nothing is saved)
export const POST = route({ scope: "read", body: estimateSegmentSchema }, async ({ body, now, rt }) =>
  json(await estimateSegment(rt.insightDeps, body, now)),
);
