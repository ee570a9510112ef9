import { json, route } from "@/lib/http/route";
import { eventBatchSchema } from "@/lib/events/schema";
import { ingestEvents } from "@/lib/services/ingest";

// POST /api/v1/events — ingest 1 to 1,000 events ({"events": [...]}); 202 once durable, all or nothing
export const POST = route({ scope: "ingest", body: eventBatchSchema }, async ({ body, traceId, now, rt }) =>
  json(await ingestEvents({ eventLog: rt.eventLog }, body.events, { traceId, now }), 202),
);
