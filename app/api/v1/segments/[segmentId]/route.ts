import { json, route, uuidParam } from "@/lib/http/route";
import { presentSegment } from "@/lib/http/present";
import { updateSegmentSchema } from "@/lib/segments/definition";
import { deleteSegment, getSegment, updateSegment } from "@/lib/services/segments";

// GET /api/v1/segments/{id} — the definition plus membership stats
export const GET = route({ scope: "read" }, async ({ params, now, rt }) =>
  json(presentSegment(await getSegment(rt.segmentDeps, uuidParam(params, "segmentId", "Segment"), now))),
);

// PUT /api/v1/segments/{id} — replace the definition (version + 1)
export const PUT = route({ scope: "write", body: updateSegmentSchema }, async ({ params, body, actor, traceId, now, rt }) => {
  const id = uuidParam(params, "segmentId", "Segment");
  return json(presentSegment(await updateSegment(rt.segmentDeps, id, body, { actor: actor.id, traceId, now })));
});

// DELETE /api/v1/segments/{id} — members exit; refused while other segments reference it
export const DELETE = route({ scope: "write" }, async ({ params, actor, traceId, now, rt }) => {
  await deleteSegment(rt.segmentDeps, uuidParam(params, "segmentId", "Segment"), { actor: actor.id, traceId, now });
  return json(null, 204);
});
