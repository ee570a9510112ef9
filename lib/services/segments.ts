import { randomUUID } from "node:crypto";
import { AppError, notFound, validationError } from "@/lib/errors";
import type { DefinitionTx, SegmentStore } from "@/lib/ports/segments";
import type { MembershipStore } from "@/lib/ports/memberships";
import type { EvaluationProgressStore } from "@/lib/ports/evaluation-progress";
import type { CreateSegmentInput, ListSegmentsQuery, UpdateSegmentInput } from "@/lib/segments/definition";
import {
  ExpressionError,
  findCycle,
  formatExpression,
  parseExpression,
  referencedSegments,
  type ExprNode,
} from "@/lib/segments/expression";
import { definitionOf, type Segment, type SegmentUpdateMessage } from "@/lib/segments/model";
import { TOPICS } from "@/lib/topics";
import type { RequestContext } from "./context";
import { TRACE_HEADER } from "@/lib/log";

export interface SegmentDeps {
  segments: SegmentStore;
  /** The serving store counts current members (PostgreSQL or Aerospike). */
  memberships?: Pick<MembershipStore, "countMembers">;
  /** Backfill progress reported by the segment processors. */
  progress?: Pick<EvaluationProgressStore, "of">;
  /** Wakes the outbox relay after a commit, so changes reach the workers at once. */
  onCommitted?: () => void;
}



const DAY_MS = 24 * 60 * 60 * 1000;

/** Parses and checks a derived segment's expression against the live graph. */
async function resolveExpression(
  tx: DefinitionTx,
  segmentId: string,
  text: string,
): Promise<{ tree: ExprNode; canonical: string; dependsOn: string[] }> {
  let tree: ExprNode;
  try {
    tree = parseExpression(text);
  } catch (e) {
    if (e instanceof ExpressionError) throw validationError([{ field: "logicalExpression", reason: e.message }]);
    throw e;
  }
  const dependsOn = referencedSegments(tree);
  if (dependsOn.includes(segmentId)) {
    throw validationError([{ field: "logicalExpression", reason: "a segment cannot reference itself" }]);
  }
  const live = new Set((await tx.findLive(dependsOn)).map((s) => s.id));
  const unknown = dependsOn.filter((id) => !live.has(id));
  if (unknown.length > 0) {
    throw validationError([{ field: "logicalExpression", reason: `unknown segment id(s): ${unknown.join(", ")}` }]);
  }
  const graph = await tx.dependencyGraph();
  graph.delete(segmentId);
  const cycle = findCycle(segmentId, dependsOn, graph);
  if (cycle) {
    throw validationError([{ field: "logicalExpression", reason: `would create a cycle: ${cycle.join(" → ")}` }]);
  }
  return { tree, canonical: formatExpression(tree), dependsOn };
}

async function assertNameFree(tx: DefinitionTx, name: string, exceptId?: string) {
  if (await tx.nameTaken(name, exceptId)) {
    throw new AppError("CONFLICT", `A segment named "${name}" already exists`, {
      field: "name",
      reason: "already in use",
    });
  }
}

async function applyDefinition(
  tx: DefinitionTx,
  base: Pick<Segment, "id">,
  input: CreateSegmentInput,
): Promise<Pick<Segment, "type" | "rules" | "logicalExpression" | "expressionTree" | "dependencies">> {
  if (input.type === "INDEPENDENT") {
    return { type: "INDEPENDENT", rules: input.rules, logicalExpression: null, expressionTree: null, dependencies: [] };
  }
  const { tree, canonical, dependsOn } = await resolveExpression(tx, base.id, input.logicalExpression);
  return {
    type: "DERIVED",
    rules: [],
    logicalExpression: canonical,
    expressionTree: tree,
    dependencies: dependsOn.map((d) => ({ segmentId: base.id, dependsOnSegmentId: d })),
  };
}

/** Writes the version, its audit row and its `segment-updates` message in the caller's transaction. */
async function record(
  tx: DefinitionTx,
  ctx: RequestContext,
  kind: SegmentUpdateMessage["kind"],
  before: Segment | null,
  after: Segment,
  isNew: boolean,
) {
  await tx.save(after, { isNew });
  await tx.audit({
    actor: ctx.actor,
    action: `segment.${kind === "status" ? (after.active ? "activate" : "deactivate") : kind.replace(/d$/, "")}`,
    entityType: "segment",
    entityId: after.id,
    before: before ? definitionOf(before) : null,
    after: kind === "deleted" ? null : definitionOf(after),
    traceId: ctx.traceId,
    at: ctx.now,
  });
  const message: SegmentUpdateMessage = {
    kind,
    segmentId: after.id,
    version: after.version,
    at: ctx.now.toISOString(),
    definition: definitionOf(after),
  };
  await tx.enqueue({ topic: TOPICS.segmentUpdates, key: after.id, payload: message, headers: { [TRACE_HEADER]: ctx.traceId } });
}

// POST /api/v1/segments
export async function createSegment(deps: SegmentDeps, input: CreateSegmentInput, ctx: RequestContext): Promise<Segment> {
  const segment = await deps.segments.transaction(async (tx) => {
    await assertNameFree(tx, input.name);
    const id = randomUUID();
    const segment: Segment = {
      id,
      name: input.name,
      description: input.description ?? null,
      active: input.active ?? true,
      version: 1,
      ...(await applyDefinition(tx, { id }, input)),
      createdBy: ctx.actor,
      updatedBy: ctx.actor,
      createdAt: ctx.now,
      updatedAt: ctx.now,
      deletedAt: null,
    };
    await record(tx, ctx, "created", null, segment, true);
    return segment;
  });
  deps.onCommitted?.();
  return segment;
}

// PUT /api/v1/segments/{id}: a full replacement of the definition.
export async function updateSegment(
  deps: SegmentDeps,
  id: string,
  input: UpdateSegmentInput,
  ctx: RequestContext,
): Promise<Segment> {
  const segment = await deps.segments.transaction(async (tx) => {
    const before = await tx.get(id);
    if (!before) throw notFound("Segment", id);
    await assertNameFree(tx, input.name, id);
    const after: Segment = {
      ...before,
      name: input.name,
      description: input.description === undefined ? before.description : input.description,
      active: input.active ?? before.active,
      version: before.version + 1,
      ...(await applyDefinition(tx, before, input)),
      updatedBy: ctx.actor,
      updatedAt: ctx.now,
    };
    await record(tx, ctx, "updated", before, after, false);
    return after;
  });
  deps.onCommitted?.();
  return segment;
}

// PATCH /api/v1/segments/{id}/status: setting the status it already has changes nothing.
export async function setSegmentStatus(
  deps: SegmentDeps,
  id: string,
  active: boolean,
  ctx: RequestContext,
): Promise<Segment> {
  let changed = false;
  const segment = await deps.segments.transaction(async (tx) => {
    const before = await tx.get(id);
    if (!before) throw notFound("Segment", id);
    if (before.active === active) return before;
    const after: Segment = { ...before, active, version: before.version + 1, updatedBy: ctx.actor, updatedAt: ctx.now };
    await record(tx, ctx, "status", before, after, false);
    changed = true;
    return after;
  });
  if (changed) deps.onCommitted?.();
  return segment;
}

// DELETE /api/v1/segments/{id}: refused while a live derived segment references it.
export async function deleteSegment(deps: SegmentDeps, id: string, ctx: RequestContext): Promise<void> {
  await deps.segments.transaction(async (tx) => {
    const before = await tx.get(id);
    if (!before) throw notFound("Segment", id);
    const dependents = await tx.dependents(id);
    if (dependents.length > 0) {
      throw new AppError(
        "DEPENDENCY_CONFLICT",
        `Segment is referenced by ${dependents.length} other segment(s): ${dependents.map((d) => d.name).join(", ")}`,
        { field: "id", reason: "referenced by other segments", dependents },
      );
    }
    const after: Segment = {
      ...before,
      active: false,
      version: before.version + 1,
      updatedBy: ctx.actor,
      updatedAt: ctx.now,
      deletedAt: ctx.now,
    };
    await record(tx, ctx, "deleted", before, after, false);
  });
  deps.onCommitted?.();
}

// GET /api/v1/segments/{id}
export async function getSegment(deps: SegmentDeps, id: string, now: Date) {
  const segment = await deps.segments.get(id);
  if (!segment) throw notFound("Segment", id);
  const [stats, members, progress] = await Promise.all([
    deps.segments.stats(id, new Date(now.getTime() - DAY_MS)),
    deps.memberships?.countMembers(id),
    deps.progress?.of(id, segment.version),
  ]);
  return {
    ...segment,
    stats: {
      ...stats,
      currentMembers: members ?? stats.currentMembers,
      // Null until a processor has reported on this version (e.g. none running yet).
      evaluation: progress
        ? { state: progress.usersRemaining > 0 ? ("backfilling" as const) : ("ready" as const), ...progress }
        : null,
    },
  };
}

// GET /api/v1/segments
export async function listSegments(deps: SegmentDeps, query: ListSegmentsQuery) {
  const { items, total } = await deps.segments.list(query);
  return {
    data: items,
    pagination: {
      page: query.page,
      pageSize: query.pageSize,
      total,
      totalPages: Math.max(1, Math.ceil(total / query.pageSize)),
    },
  };
}

// GET /api/v1/segments/{id}/versions
export async function listSegmentVersions(deps: SegmentDeps, id: string) {
  const segment = await deps.segments.get(id);
  if (!segment) throw notFound("Segment", id);
  return { data: await deps.segments.versions(id) };
}
