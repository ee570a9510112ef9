import { json, route } from "@/lib/http/route";
import { batchActivityQuerySchema } from "@/lib/segments/insights";
import { batchSegmentActivity } from "@/lib/services/segment-insights";

// GET /api/v1/segments/stats?ids=a,b&window=24h — members, entries and exits per hour for up to 100 segments
export const GET = route({ scope: "read", query: batchActivityQuerySchema }, async ({ query, now, rt }) =>
  json(await batchSegmentActivity(rt.insightDeps, query.ids, query.window, now)),
);
