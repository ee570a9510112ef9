import { and, asc, eq, gte, isNotNull, lt, lte, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { campaignSends } from "@/db/schema";
import type { SendRecord, SendStore } from "@/lib/ports/sends";

type Row = typeof campaignSends.$inferSelect;
const toRecord = (r: Row): SendRecord => ({
  id: r.id,
  idempotencyKey: r.idempotencyKey,
  campaignId: r.campaignId,
  runId: r.runId,
  userId: r.userId,
  channel: r.channel,
  transitionId: r.transitionId,
  status: r.status,
  reason: r.reason,
  attempts: r.attempts,
  providerMessageId: r.providerMessageId,
  nextAttemptAt: r.nextAttemptAt,
});

export function createSendStore(db: Database): SendStore {
  const set = async (id: number, values: Partial<typeof campaignSends.$inferInsert>) => {
    await db.update(campaignSends).set(values).where(eq(campaignSends.id, id));
  };
  return {
    async claim(input, now) {
      const inserted = await db
        .insert(campaignSends)
        .values({ ...input, status: "queued", nextAttemptAt: now, createdAt: now, updatedAt: now })
        .onConflictDoNothing({ target: campaignSends.idempotencyKey })
        .returning();
      if (inserted[0]) return { record: toRecord(inserted[0]), created: true };
      const [existing] = await db.select().from(campaignSends).where(eq(campaignSends.idempotencyKey, input.idempotencyKey));
      return { record: toRecord(existing!), created: false };
    },
    async markSending(id, now) {
      const r = await db
        .update(campaignSends)
        .set({ status: "sending", attempts: sql`${campaignSends.attempts} + 1`, updatedAt: now, nextAttemptAt: null })
        .where(and(eq(campaignSends.id, id), eq(campaignSends.status, "queued")))
        .returning({ id: campaignSends.id });
      return r.length === 1;
    },
    markSent: (id, providerMessageId, now) => set(id, { status: "sent", providerMessageId, sentAt: now, updatedAt: now, reason: null }),
    markFailed: (id, reason, now) => set(id, { status: "failed", reason, updatedAt: now }),
    markSkipped: (id, reason, now) => set(id, { status: "skipped", reason, updatedAt: now, nextAttemptAt: null }),
    requeue: (id, at, reason, now) => set(id, { status: "queued", nextAttemptAt: at, reason, updatedAt: now }),
    async due(now, limit) {
      const rows = await db
        .select()
        .from(campaignSends)
        .where(and(eq(campaignSends.status, "queued"), isNotNull(campaignSends.nextAttemptAt), lte(campaignSends.nextAttemptAt, now)))
        .orderBy(asc(campaignSends.nextAttemptAt))
        .limit(limit);
      return rows.map(toRecord);
    },
    async stuckSending(before, limit) {
      const rows = await db
        .select()
        .from(campaignSends)
        .where(and(eq(campaignSends.status, "sending"), lt(campaignSends.updatedAt, before)))
        .limit(limit);
      return rows.map(toRecord);
    },
    async sentTimes(userId, since) {
      const rows = await db
        .select({ at: campaignSends.sentAt })
        .from(campaignSends)
        .where(and(eq(campaignSends.userId, userId), eq(campaignSends.status, "sent"), gte(campaignSends.sentAt, since)));
      return rows.map((r) => r.at!.getTime());
    },
  };
}
