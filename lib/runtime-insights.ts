import { createPopulationReader, createSegmentActivityReader } from "@/lib/adapters/db/segment-insights";
import type { Runtime } from "@/lib/runtime";
import type { InsightDeps } from "@/lib/services/segment-insights";

/**
 * Composition of the segment insight use cases (hourly activity, size estimate). They only read
 * through the runtime's database and membership store and own nothing with a lifecycle, so they
 * are derived from a runtime here, once per runtime, instead of growing `Runtime` itself.
 */
const cache = new WeakMap<Runtime, InsightDeps>();

export function insightDeps(rt: Runtime): InsightDeps {
  let deps = cache.get(rt);
  if (!deps) {
    deps = {
      segments: rt.segments,
      memberships: rt.memberships,
      activity: createSegmentActivityReader(rt.db.db),
      population: createPopulationReader(rt.db.db),
    };
    cache.set(rt, deps);
  }
  return deps;
}
