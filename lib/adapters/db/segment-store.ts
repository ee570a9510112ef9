import { and, asc, count, eq, gt, ilike, inArray, isNull, sql, desc } from "drizzle-orm";
import type { Database } from "@/db/client";
import {
  auditLog,
  outbox,
  segmentDependencies,
  segmentRules,
  segmentVersions,
  segments,
  userSegmentHistory,
  userSegmentMemberships,
  type SegmentRow,
  type SegmentRuleRow,
} from "@/db/schema";
import type { DefinitionTx, SegmentStore } from "@/lib/ports/segments";
import type { ExprNode } from "@/lib/segments/expression";
import { definitionOf, type Segment } from "@/lib/segments/model";
import type { ListSegmentsQuery } from "@/lib/segments/definition";

/** Serialises definition changes (advisory transaction lock; released at commit/rollback). */
const DEFINITIONS_LOCK = 7265110002;

type Executor = Pick<Database, "select" | "insert" | "update" | "delete" | "execute">;

function toSegment(row: SegmentRow, rules: SegmentRuleRow[], deps: string[]): Segment {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    active: row.active,
    version: row.version,
    rules: rules
      .sort((a, b) => a.position - b.position)
      .map((r) => ({
        eventType: r.eventType,
        attribute: r.attribute,
        field: r.field,
        operator: r.operator,
        value: r.value,
        windowMinutes: r.windowMinutes,
      })),
    logicalExpression: row.logicalExpression,
    expressionTree: (row.expressionTree as ExprNode | null) ?? null,
    dependencies: deps.map((d) => ({ segmentId: row.id, dependsOnSegmentId: d })),
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    deletedAt: row.deletedAt,
  };
}

/** Loads rules and dependencies for a page of segment rows in two queries. */
async function hydrate(db: Executor, rows: SegmentRow[]): Promise<Segment[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [rules, deps] = await Promise.all([
    db.select().from(segmentRules).where(inArray(segmentRules.segmentId, ids)),
    db.select().from(segmentDependencies).where(inArray(segmentDependencies.segmentId, ids)),
  ]);
  return rows.map((row) =>
    toSegment(
      row,
      rules.filter((r) => r.segmentId === row.id),
      deps.filter((d) => d.segmentId === row.id).map((d) => d.dependsOnSegmentId),
    ),
  );
}

async function getLive(db: Executor, id: string): Promise<Segment | null> {
  const rows = await db
    .select()
    .from(segments)
    .where(and(eq(segments.id, id), isNull(segments.deletedAt)));
  const [segment] = await hydrate(db, rows);
  return segment ?? null;
}

function definitionTx(tx: Executor): DefinitionTx {
  return {
    get: (id) => getLive(tx, id),
    findLive: async (ids) => {
      if (ids.length === 0) return [];
      return tx
        .select({ id: segments.id, name: segments.name })
        .from(segments)
        .where(and(inArray(segments.id, [...ids]), isNull(segments.deletedAt)));
    },
    nameTaken: async (name, exceptId) => {
      const rows = await tx
        .select({ id: segments.id })
        .from(segments)
        .where(and(sql`lower(${segments.name}) = lower(${name})`, isNull(segments.deletedAt)));
      return rows.some((r) => r.id !== exceptId);
    },
    dependencyGraph: async () => {
      const rows = await tx
        .select({ from: segmentDependencies.segmentId, to: segmentDependencies.dependsOnSegmentId })
        .from(segmentDependencies)
        .innerJoin(segments, eq(segments.id, segmentDependencies.segmentId))
        .where(isNull(segments.deletedAt));
      const graph = new Map<string, string[]>();
      for (const { from, to } of rows) {
        const list = graph.get(from);
        if (list) list.push(to);
        else graph.set(from, [to]);
      }
      return graph;
    },
    dependents: async (id) =>
      tx
        .select({ id: segments.id, name: segments.name })
        .from(segmentDependencies)
        .innerJoin(segments, eq(segments.id, segmentDependencies.segmentId))
        .where(and(eq(segmentDependencies.dependsOnSegmentId, id), isNull(segments.deletedAt)))
        .orderBy(asc(segments.name)),
    save: async (s, { isNew }) => {
      const row = {
        name: s.name,
        description: s.description,
        type: s.type,
        active: s.active,
        version: s.version,
        logicalExpression: s.logicalExpression,
        expressionTree: s.expressionTree,
        updatedBy: s.updatedBy,
        updatedAt: s.updatedAt,
        deletedAt: s.deletedAt,
      };
      if (isNew) {
        await tx.insert(segments).values({ ...row, id: s.id, createdBy: s.createdBy, createdAt: s.createdAt });
      } else {
        await tx.update(segments).set(row).where(eq(segments.id, s.id));
        await tx.delete(segmentRules).where(eq(segmentRules.segmentId, s.id));
        await tx.delete(segmentDependencies).where(eq(segmentDependencies.segmentId, s.id));
      }
      if (s.rules.length > 0) {
        await tx.insert(segmentRules).values(s.rules.map((r, position) => ({ ...r, segmentId: s.id, position })));
      }
      // A deleted segment keeps no outgoing edges, so what it referenced can be deleted later.
      if (s.dependencies.length > 0 && s.deletedAt === null) {
        await tx.insert(segmentDependencies).values(s.dependencies);
      }
      await tx.insert(segmentVersions).values({
        segmentId: s.id,
        version: s.version,
        definition: { ...definitionOf(s), deleted: s.deletedAt !== null },
        changedBy: s.updatedBy,
        changedAt: s.updatedAt,
      });
    },
    audit: async (e) => {
      await tx.insert(auditLog).values({
        actor: e.actor,
        action: e.action,
        entityType: e.entityType,
        entityId: e.entityId,
        before: e.before ?? null,
        after: e.after ?? null,
        traceId: e.traceId,
        at: e.at,
      });
    },
    enqueue: async (m) => {
      await tx.insert(outbox).values({ topic: m.topic, key: m.key, payload: m.payload, headers: m.headers ?? {} });
    },
  };
}

/** SegmentStore on drizzle: the same code serves PostgreSQL and PGlite. */
export function createSegmentStore(db: Database): SegmentStore {
  return {
    transaction: (fn) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${DEFINITIONS_LOCK})`);
        return fn(definitionTx(tx));
      }),
    get: (id) => getLive(db, id),
    list: async (q: ListSegmentsQuery) => {
      const filters = [isNull(segments.deletedAt)];
      if (q.type) filters.push(eq(segments.type, q.type));
      if (q.active !== undefined) filters.push(eq(segments.active, q.active));
      if (q.search) filters.push(ilike(segments.name, `%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
      const where = and(...filters);
      const [rows, [totalRow]] = await Promise.all([
        db
          .select()
          .from(segments)
          .where(where)
          .orderBy(desc(segments.createdAt), desc(segments.id))
          .limit(q.pageSize)
          .offset((q.page - 1) * q.pageSize),
        db.select({ n: count() }).from(segments).where(where),
      ]);
      return { items: await hydrate(db, rows), total: totalRow?.n ?? 0 };
    },
    stats: async (id, since) => {
      const [[members], [entries], [exits]] = await Promise.all([
        db.select({ n: count() }).from(userSegmentMemberships).where(eq(userSegmentMemberships.segmentId, id)),
        db
          .select({ n: count() })
          .from(userSegmentHistory)
          .where(and(eq(userSegmentHistory.segmentId, id), gt(userSegmentHistory.enteredAt, since))),
        db
          .select({ n: count() })
          .from(userSegmentHistory)
          .where(and(eq(userSegmentHistory.segmentId, id), gt(userSegmentHistory.exitedAt, since))),
      ]);
      return {
        currentMembers: members?.n ?? 0,
        entriesLast24h: entries?.n ?? 0,
        exitsLast24h: exits?.n ?? 0,
      };
    },
    evaluationDefinitions: async () => {
      const all = await hydrate(db, await db.select().from(segments));
      return all.map((s) => ({ ...definitionOf(s), deleted: s.deletedAt !== null }));
    },
    names: async (ids) => {
      if (ids.length === 0) return new Map();
      const rows = await db
        .select({ id: segments.id, name: segments.name })
        .from(segments)
        .where(inArray(segments.id, [...ids]));
      return new Map(rows.map((r) => [r.id, r.name]));
    },
    versions: async (id) =>
      db
        .select({
          version: segmentVersions.version,
          definition: segmentVersions.definition,
          changedBy: segmentVersions.changedBy,
          changedAt: segmentVersions.changedAt,
        })
        .from(segmentVersions)
        .where(eq(segmentVersions.segmentId, id))
        .orderBy(desc(segmentVersions.version)),
  };
}
