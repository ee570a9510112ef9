import { json, route } from "@/lib/http/route";
import { checkIngestHealth } from "@/lib/services/ingest";

// GET /api/v1/events/health — public: 200 when events can be appended, else 503 with Retry-After
export const GET = route({ scope: "public" }, async ({ now, rt }) => {
  const kind = rt.env.KAFKA_BROKERS ? "kafka" : "local";
  const health = await checkIngestHealth({ eventLog: rt.eventLog, kind, partitions: rt.env.KAFKA_PARTITIONS }, now);
  return json(health, 200, { "cache-control": "no-store" });
});
