import { and, asc, eq, gte, inArray, isNotNull, lt, lte, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Database } from "@/db/client";
import { campaignSends } from "@/db/schema";
import type { SendRecord, SendStatus, SendStore } from "@/lib/ports/sends";

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
  /** One guarded status change: applies only while the record is still in `from`. */
  const move = async (id: number, from: SendStatus, values: PgUpdateSetSource<typeof campaignSends>) => {
    const r = await db
      .update(campaignSends)
      .set(values)
      .where(and(eq(campaignSends.id, id), eq(campaignSends.status, from)))
      .returning({ id: campaignSends.id });
    return r.length === 1;
  };
  return {
    async claim(input, now, leaseUntil) {
      const inserted = await db
        .insert(campaignSends)
        .values({ ...input, status: "queued", nextAttemptAt: leaseUntil, createdAt: now, updatedAt: now })
        .onConflictDoNothing({ target: campaignSends.idempotencyKey })
        .returning();
      if (inserted[0]) return { record: toRecord(inserted[0]), created: true };
      const [existing] = await db.select().from(campaignSends).where(eq(campaignSends.idempotencyKey, input.idempotencyKey));
      return { record: toRecord(existing!), created: false };
    },
    markSending: (id, now) =>
      move(id, "queued", { status: "sending", attempts: sql`${campaignSends.attempts} + 1`, updatedAt: now, nextAttemptAt: null }),
    markSent: (id, providerMessageId, now) => move(id, "sending", { status: "sent", providerMessageId, sentAt: now, updatedAt: now, reason: null }),
    markFailed: (id, reason, now, from, options) =>
      move(id, from, { status: "failed", reason, updatedAt: now, nextAttemptAt: null, ...(options?.countAttempt ? { attempts: sql`${campaignSends.attempts} + 1` } : {}) }),
    markSkipped: (id, reason, now) => move(id, "queued", { status: "skipped", reason, updatedAt: now, nextAttemptAt: null }),
    requeue: (id, at, reason, now, from, options) =>
      move(id, from, {
        status: "queued",
        nextAttemptAt: at,
        reason,
        updatedAt: now,
        ...(options?.countAttempt ? { attempts: sql`${campaignSends.attempts} + 1` } : {}),
      }),
    async due(now, limit, leaseUntil) {
      // Taken with row locks skipped, and leased in the same statement: concurrent sweeps (in
      // this process or another) get disjoint records.
      const dueIds = db
        .select({ id: campaignSends.id })
        .from(campaignSends)
        .where(and(eq(campaignSends.status, "queued"), isNotNull(campaignSends.nextAttemptAt), lte(campaignSends.nextAttemptAt, now)))
        .orderBy(asc(campaignSends.nextAttemptAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      const rows = await db
        .update(campaignSends)
        .set({ nextAttemptAt: leaseUntil })
        .where(and(inArray(campaignSends.id, dueIds), eq(campaignSends.status, "queued")))
        .returning();
      return rows.map(toRecord).sort((a, b) => a.id - b.id);
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
