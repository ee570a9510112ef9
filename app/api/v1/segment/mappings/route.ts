import { json, route } from "@/lib/http/route";
import { deleteMapping, deleteMappingQuerySchema, listMappings, putMapping, putMappingSchema } from "@/lib/services/segment-ingest";

// GET /api/v1/segment/mappings — Segment event names → event types in force, and the unmapped names seen
export const GET = route({ scope: "read" }, async ({ rt }) => json(await listMappings(rt.integrations.segmentIngest)));

// PUT /api/v1/segment/mappings — store a mapping {eventName, eventType} (wins over SEGMENT_EVENT_MAP)
export const PUT = route({ scope: "write", body: putMappingSchema }, async ({ body, actor, traceId, now, rt }) =>
  json(await putMapping(rt.integrations.segmentIngest, body, actor.id, now, { log: rt.accountDeps.audit, traceId })),
);

// DELETE /api/v1/segment/mappings?eventName= — forget a stored mapping
export const DELETE = route({ scope: "write", query: deleteMappingQuerySchema }, async ({ query, actor, traceId, now, rt }) => {
  await deleteMapping(rt.integrations.segmentIngest, query.eventName, { log: rt.accountDeps.audit, actor: actor.id, traceId, now });
  return json(null, 204);
});
