import { and, eq, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { segmentEvaluationProgress as progress } from "@/db/schema";
import type { EvaluationProgressStore } from "@/lib/ports/evaluation-progress";

export function createEvaluationProgressStore(db: Database): EvaluationProgressStore {
  return {
    async report(instanceId, rows) {
      if (rows.length === 0) return;
      await db
        .insert(progress)
        .values(rows.map((r) => ({ ...r, instanceId, updatedAt: new Date() })))
        .onConflictDoUpdate({
          target: [progress.segmentId, progress.instanceId],
          set: {
            version: sql`excluded.version`,
            usersTotal: sql`excluded.users_total`,
            usersRemaining: sql`excluded.users_remaining`,
            updatedAt: sql`excluded.updated_at`,
          },
        });
    },
    async of(segmentId, version) {
      const [row] = await db
        .select({
          total: sql<string>`coalesce(sum(${progress.usersTotal}), 0)`,
          remaining: sql<string>`coalesce(sum(${progress.usersRemaining}), 0)`,
          n: sql<string>`count(*)`,
          updatedAt: sql<string | Date>`max(${progress.updatedAt})`,
        })
        .from(progress)
        .where(and(eq(progress.segmentId, segmentId), eq(progress.version, version)));
      if (!row || Number(row.n) === 0) return null;
      return {
        version,
        usersTotal: Number(row.total),
        usersRemaining: Number(row.remaining),
        updatedAt: new Date(row.updatedAt),
      };
    },
  };
}
