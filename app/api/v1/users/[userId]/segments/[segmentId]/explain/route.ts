import { json, route, uuidParam } from "@/lib/http/route";
import { assertUserId, explainUserSegment } from "@/lib/services/users";

// GET /api/v1/users/{id}/segments/{segmentId}/explain — why the user is (not) in the segment
export const GET = route({ scope: "read" }, async ({ params, now, rt }) =>
  json(await explainUserSegment(rt, assertUserId(params.userId ?? ""), uuidParam(params, "segmentId", "Segment"), now)),
);
