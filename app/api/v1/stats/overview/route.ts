import { json, route } from "@/lib/http/route";
import { statsOverview } from "@/lib/services/stats";

// GET /api/v1/stats/overview — events/s ingested, evaluation lag, transitions/min, sends by status,
// largest and fastest-growing segments, processor checkpoints: all read from the pipeline's tables
export const GET = route({ scope: "read" }, async ({ now, rt }) => json(await statsOverview(rt.statsDeps, now)));
