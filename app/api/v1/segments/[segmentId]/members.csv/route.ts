import { csvResponse } from "@/lib/http/csv";
import { route, uuidParam } from "@/lib/http/route";
import { exportSegmentMembers } from "@/lib/services/exports";

// GET /api/v1/segments/{id}/members.csv — every current member (user_id, entered_at), streamed page by page
export const GET = route({ scope: "read" }, async ({ params, rt }) =>
  csvResponse(await exportSegmentMembers(rt.integrations.exports, uuidParam(params, "segmentId", "Segment"))),
);
