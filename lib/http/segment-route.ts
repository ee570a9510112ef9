import { json, route, type NextRouteHandler } from "@/lib/http/route";
import { segmentBatchSchema, segmentSingleBodySchema } from "@/lib/integrations/segment-spec";
import { authenticateWriteKey, ingestSegmentCall, type SegmentCall } from "@/lib/services/segment-ingest";

/**
 * The handler of one Segment Tracking API call. `route()` reads the JSON body (size, content
 * type, error format); the write key — the Basic auth user name, as Segment's SDKs send it — is
 * resolved here, since route() knows only bearer keys and sessions.
 */
export function segmentCallRoute(call: SegmentCall): NextRouteHandler {
  return route({ scope: "public", body: call === "batch" ? segmentBatchSchema.pick({ writeKey: true }).loose() : segmentSingleBodySchema }, async ({ req, body, now, traceId, rt }) => {
    const deps = rt.integrations.segmentIngest;
    const actor = await authenticateWriteKey(deps, req.headers.get("authorization"), body.writeKey, now);
    return json(await ingestSegmentCall(deps, call, body, { actor, now, traceId }));
  });
}
