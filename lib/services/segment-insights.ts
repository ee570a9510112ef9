/**
 * What the segment pages show beyond the definition: hourly activity (sparklines and charts)
 * and a size estimate of a definition before it is saved, computed with the engine's own window
 * semantics (lib/evaluation/explain) over the retained events.
 */
import { notFound, validationError } from "@/lib/errors";
import { explainSegment } from "@/lib/evaluation/explain";
import type { EngineEvent } from "@/lib/evaluation/engine";
import type { MembershipStore } from "@/lib/ports/memberships";
import type { PopulationReader, SegmentActivityReader } from "@/lib/ports/segment-insights";
import type { SegmentStore } from "@/lib/ports/segments";
import { ExpressionError, findCycle, parseExpression, referencedSegments, type ExprNode } from "@/lib/segments/expression";
import { activitySeries, activityWindows, type ActivityWindow, type EstimateSegmentInput } from "@/lib/segments/insights";
import { definitionOf, type SegmentDefinition } from "@/lib/segments/model";

export interface InsightDeps {
  segments: Pick<SegmentStore, "get">;
  memberships: Pick<MembershipStore, "countMembers">;
  activity: SegmentActivityReader;
  population: PopulationReader;
  /** Users evaluated one by one at most (default ESTIMATE_SAMPLE_USERS). */
  estimateSampleUsers?: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

async function seriesFor(deps: InsightDeps, ids: string[], window: ActivityWindow, now: Date) {
  const hours = activityWindows[window];
  const nowMs = now.getTime();
  const since = Math.floor(nowMs / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
  const [hourly, counts] = await Promise.all([
    deps.activity.hourly(ids, since),
    Promise.all(ids.map((id) => deps.memberships.countMembers(id))),
  ]);
  return ids.map((segmentId, i) => ({
    segmentId,
    currentMembers: counts[i]!,
    points: activitySeries(counts[i]!, hourly.filter((h) => h.segmentId === segmentId), hours, nowMs),
  }));
}

// GET /api/v1/segments/{id}/stats?window=24h — members, entries and exits per hour
export async function segmentActivity(deps: InsightDeps, id: string, window: ActivityWindow, now: Date) {
  if (!(await deps.segments.get(id))) throw notFound("Segment", id);
  const [series] = await seriesFor(deps, [id], window, now);
  return { window, bucket: "hour" as const, computedAt: now.toISOString(), ...series! };
}

// GET /api/v1/segments/stats?ids=…&window=24h — the same for up to 100 segments (list sparklines)
export async function batchSegmentActivity(deps: InsightDeps, ids: string[], window: ActivityWindow, now: Date) {
  return { window, bucket: "hour" as const, computedAt: now.toISOString(), data: await seriesFor(deps, ids, window, now) };
}

/** At most this many users are evaluated; beyond it a uniform hash sample is, and the result scaled. */
export const ESTIMATE_SAMPLE_USERS = 5_000;
const EVENTS_CHUNK_USERS = 500;

export interface SegmentEstimate {
  /** Users the definition would match now (scaled up from the sample when `sampled`). */
  matching: number;
  /** Users known to the platform: a retained event in the last 24 h, or a profile. */
  population: number;
  computedAt: string;
  sampled: boolean;
  /** Users with events evaluated one by one (all of them unless sampled). */
  evaluatedUsers: number;
  activeUsers: number;
  /** Profile-only users (no event in 24 h): they match when the definition holds for zero events. */
  quietUsers: number;
  durationMs: number;
}

/** Loads the segments an expression reaches, transitively; reports unknown and cyclic references at the field. */
async function loadReferenced(
  deps: InsightDeps,
  tree: ExprNode,
  selfId: string | undefined,
): Promise<Map<string, SegmentDefinition>> {
  const direct = referencedSegments(tree);
  if (selfId && direct.includes(selfId)) {
    throw validationError([{ field: "logicalExpression", reason: "a segment cannot reference itself" }]);
  }
  const defs = new Map<string, SegmentDefinition>();
  const unknown: string[] = [];
  const queue = [...direct];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (defs.has(id)) continue;
    const seg = await deps.segments.get(id);
    if (!seg) {
      if (direct.includes(id)) unknown.push(id);
      continue;
    }
    defs.set(id, definitionOf(seg));
    if (seg.expressionTree) queue.push(...referencedSegments(seg.expressionTree));
  }
  if (unknown.length > 0) {
    throw validationError([{ field: "logicalExpression", reason: `unknown segment id(s): ${unknown.join(", ")}` }]);
  }
  if (selfId) {
    const graph = new Map<string, string[]>();
    for (const d of defs.values()) graph.set(d.id, d.expressionTree ? referencedSegments(d.expressionTree) : []);
    const cycle = findCycle(selfId, direct, graph);
    if (cycle) throw validationError([{ field: "logicalExpression", reason: `would create a cycle: ${cycle.join(" → ")}` }]);
  }
  return defs;
}

// POST /api/v1/segments/estimate — how many users a definition would match now
export async function estimateSegment(deps: InsightDeps, input: EstimateSegmentInput, now: Date): Promise<SegmentEstimate> {
  const started = Date.now();
  const nowMs = now.getTime();
  const id = input.segmentId ?? "00000000-0000-4000-8000-000000000000";
  let definitions = new Map<string, SegmentDefinition>();
  let candidate: SegmentDefinition;
  if (input.type === "INDEPENDENT") {
    candidate = {
      id, name: "estimate", description: null, type: "INDEPENDENT", active: true, version: 0,
      rules: input.rules, logicalExpression: null, expressionTree: null, dependencies: [],
    };
  } else {
    let tree: ExprNode;
    try {
      tree = parseExpression(input.logicalExpression);
    } catch (e) {
      if (e instanceof ExpressionError) throw validationError([{ field: "logicalExpression", reason: e.message }]);
      throw e;
    }
    definitions = await loadReferenced(deps, tree, input.segmentId);
    candidate = {
      id, name: "estimate", description: null, type: "DERIVED", active: true, version: 0,
      rules: [], logicalExpression: input.logicalExpression, expressionTree: tree, dependencies: referencedSegments(tree),
    };
  }
  definitions.set(id, candidate);
  const holds = (events: readonly EngineEvent[]) => explainSegment(candidate, definitions, events, nowMs).holds;

  const since = nowMs - DAY_MS;
  const [activeUsers, quietUsers] = await Promise.all([
    deps.population.countActiveUsers(since),
    deps.population.countQuietProfiles(since),
  ]);
  const limit = deps.estimateSampleUsers ?? ESTIMATE_SAMPLE_USERS;
  const sampled = activeUsers > limit;
  const buckets = sampled ? Math.max(1, Math.floor((1024 * limit) / activeUsers)) : 1024;
  const users = await deps.population.activeUsers(since, { bucketsOf1024: buckets, limit: sampled ? 2 * limit : activeUsers });

  let matched = 0;
  for (let i = 0; i < users.length; i += EVENTS_CHUNK_USERS) {
    const chunk = users.slice(i, i + EVENTS_CHUNK_USERS);
    const byUser = new Map<string, EngineEvent[]>(chunk.map((u) => [u, []]));
    for (const e of await deps.population.eventsOf(chunk, since)) byUser.get(e.userId)?.push(e);
    for (const events of byUser.values()) if (holds(events)) matched++;
  }
  const scaled = users.length > 0 && sampled ? Math.round((matched * activeUsers) / users.length) : matched;
  const quietMatch = quietUsers > 0 && holds([]) ? quietUsers : 0;
  return {
    matching: scaled + quietMatch,
    population: activeUsers + quietUsers,
    computedAt: now.toISOString(),
    sampled,
    evaluatedUsers: users.length,
    activeUsers,
    quietUsers,
    durationMs: Date.now() - started,
  };
}
