import { json, route, uuidParam } from "@/lib/http/route";
import { presentSegment } from "@/lib/http/present";
import { segmentStatusSchema } from "@/lib/segments/definition";
import { setSegmentStatus } from "@/lib/services/segments";

// PATCH /api/v1/segments/{id}/status — activate or deactivate ({"active": boolean})
export const PATCH = route({ scope: "write", body: segmentStatusSchema }, async ({ params, body, actor, traceId, now, rt }) => {
  const id = uuidParam(params, "segmentId", "Segment");
  return json(presentSegment(await setSegmentStatus(rt.segmentDeps, id, body.active, { actor: actor.id, traceId, now })));
});
