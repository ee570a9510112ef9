import { json, route } from "@/lib/http/route";
import { singleEventBodySchema } from "@/lib/events/schema";
import { ingestEvent } from "@/lib/services/ingest";

// POST /api/v1/events/single — ingest one event; 202 once durable
export const POST = route({ scope: "ingest", body: singleEventBodySchema }, async ({ body, traceId, now, rt }) =>
  json(await ingestEvent({ eventLog: rt.eventLog }, body, { traceId, now }), 202),
);
