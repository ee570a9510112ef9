import { json, route } from "@/lib/http/route";
import { createStatsStore } from "@/lib/adapters/db/stats-store";
import { statsOverview } from "@/lib/services/stats";

// GET /api/v1/stats/overview — events/s ingested, evaluation lag, transitions/min, sends by status,
// largest and fastest-growing segments, processor checkpoints: all read from the pipeline's tables
export const GET = route({ scope: "read" }, async ({ now, rt }) =>
  json(
    await statsOverview(
      { stats: createStatsStore(rt.db.db), memberships: rt.memberships, processor: rt.processor, processorGroup: rt.env.SEGMENT_PROCESSOR_GROUP },
      now,
    ),
  ),
);
