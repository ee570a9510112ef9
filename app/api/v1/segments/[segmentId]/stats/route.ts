import { json, route, uuidParam } from "@/lib/http/route";
import { activityQuerySchema } from "@/lib/segments/insights";
import { segmentActivity } from "@/lib/services/segment-insights";

// GET /api/v1/segments/{id}/stats?window=24h — members, entries and exits per hour
export const GET = route({ scope: "read", query: activityQuerySchema }, async ({ params, query, now, rt }) =>
  json(await segmentActivity(rt.insightDeps, uuidParam(params, "segmentId", "Segment"), query.window, now)),
);
