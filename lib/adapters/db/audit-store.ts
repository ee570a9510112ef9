import { and, desc, eq, gte, lt, lte, type SQL } from "drizzle-orm";
import type { Database } from "@/db/client";
import { auditLog } from "@/db/schema";
import type { AuditLog } from "@/lib/ports/auth";

export function createAuditStore(db: Database): AuditLog {
  return {
    append: async (e) => {
      await db.insert(auditLog).values({
        at: e.at,
        actor: e.actor,
        action: e.action,
        entityType: e.entityType,
        entityId: e.entityId,
        before: e.before ?? null,
        after: e.after ?? null,
        traceId: e.traceId ?? null,
      });
    },
    list: async (f) => {
      const where: SQL[] = [];
      if (f.actor) where.push(eq(auditLog.actor, f.actor));
      if (f.action) where.push(eq(auditLog.action, f.action));
      if (f.entityType) where.push(eq(auditLog.entityType, f.entityType));
      if (f.entityId) where.push(eq(auditLog.entityId, f.entityId));
      if (f.from) where.push(gte(auditLog.at, f.from));
      if (f.to) where.push(lte(auditLog.at, f.to));
      if (f.before !== undefined) where.push(lt(auditLog.id, f.before));
      return db
        .select()
        .from(auditLog)
        .where(where.length ? and(...where) : undefined)
        .orderBy(desc(auditLog.id))
        .limit(f.limit);
    },
  };
}
