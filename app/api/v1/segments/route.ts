import { json, route } from "@/lib/http/route";
import { presentSegment } from "@/lib/http/present";
import { createSegmentSchema, listSegmentsQuerySchema } from "@/lib/segments/definition";
import { createSegment, listSegments } from "@/lib/services/segments";

// GET /api/v1/segments — page through segments, filtered by type, active and name
export const GET = route({ scope: "read", query: listSegmentsQuerySchema }, async ({ query, rt }) => {
  const page = await listSegments(rt.segmentDeps, query);
  return json({ ...page, data: page.data.map(presentSegment) });
});

// POST /api/v1/segments — create an independent or derived segment
export const POST = route({ scope: "write", body: createSegmentSchema }, async ({ body, actor, traceId, now, rt }) =>
  json(presentSegment(await createSegment(rt.segmentDeps, body, { actor: actor.id, traceId, now })), 201),
);
