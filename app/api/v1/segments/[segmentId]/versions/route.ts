import { json, route, uuidParam } from "@/lib/http/route";
import { listSegmentVersions } from "@/lib/services/segments";

// GET /api/v1/segments/{id}/versions — every version of the definition, newest first
export const GET = route({ scope: "read" }, async ({ params, rt }) =>
  json(await listSegmentVersions(rt.segmentDeps, uuidParam(params, "segmentId", "Segment"))),
);
