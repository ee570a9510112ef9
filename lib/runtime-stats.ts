import { createStatsStore } from "@/lib/adapters/db/stats-store";
import { metrics } from "@/lib/metrics";
import { TOPICS } from "@/lib/topics";
import type { Runtime } from "@/lib/runtime";
import type { StatsDeps } from "@/lib/services/stats";

/**
 * Composition of the dashboard's overview. It only reads through the runtime's database,
 * membership store and in-process processor, and owns nothing with a lifecycle, so it is derived
 * from a runtime here, once per runtime (which also scopes the overview's short cache to it).
 */
const cache = new WeakMap<Runtime, StatsDeps>();

export function statsDeps(rt: Runtime): StatsDeps {
  let deps = cache.get(rt);
  if (!deps) {
    deps = {
      stats: createStatsStore(rt.db.db),
      memberships: rt.memberships,
      processor: rt.processor,
      processorGroup: rt.env.SEGMENT_PROCESSOR_GROUP,
      // The in-process processor's consumer lag on user-events (lib/metrics), summed over its partitions.
      backlog: rt.processor
        ? async () => {
            const gauge = await metrics().consumerLag.get();
            const mine = gauge.values.filter((v) => v.labels.consumer === "segment-processor" && v.labels.topic === TOPICS.userEvents);
            return mine.length === 0 ? null : mine.reduce((a, v) => a + v.value, 0);
          }
        : null,
    };
    cache.set(rt, deps);
  }
  return deps;
}
