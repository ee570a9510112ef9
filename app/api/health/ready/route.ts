import { json, route } from "@/lib/http/route";
import { readinessOf } from "@/lib/services/health";

// GET /api/health/ready — public: 200 when the database, the event log and the membership store answer, else 503 with each one's status
export const GET = route({ scope: "public", rateLimit: false }, async ({ rt }) => {
  const ready = readinessOf(rt, {
    db: rt.db,
    eventLog: rt.eventLog,
    memberships: rt.memberships,
    partitions: rt.env.KAFKA_PARTITIONS,
    onError: (dependency, err) => rt.log.warn({ err, dependency }, "readiness probe failed"),
  });
  return json(await ready(), 200, { "cache-control": "no-store" });
});
