import { and, asc, eq, gte, inArray, isNotNull, lt, lte, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Database } from "@/db/client";
import { campaignSends } from "@/db/schema";
import type { SendRecord, SendStatus, SendStore } from "@/lib/ports/sends";
import { coalesce } from "./coalesce";

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

type ClaimInput = Parameters<SendStore["claim"]>[0];

/** Per item: true for the first occurrence of an id the statement changed, false otherwise. */
function firstWins(ids: readonly number[], changed: ReadonlySet<number>): boolean[] {
  const given = new Set<number>();
  return ids.map((id) => {
    const won = changed.has(id) && !given.has(id);
    given.add(id);
    return won;
  });
}

/**
 * Campaign sends in PostgreSQL / PGlite. The three writes on every message's path (claim,
 * markSending, markSent) are group-committed (./coalesce.ts): concurrent calls — a batch run's
 * sends in flight, a burst of transitions — share one statement, each caller still awaiting its
 * own row's durable write. The other status changes are rare and run one by one.
 */
export function createSendStore(db: Database): SendStore {
  const claimMany = async (items: { input: ClaimInput; now: Date; leaseUntil: Date }[]) => {
    const inserted = await db
      .insert(campaignSends)
      .values(items.map(({ input, now, leaseUntil }) => ({ ...input, status: "queued" as const, nextAttemptAt: leaseUntil, createdAt: now, updatedAt: now })))
      .onConflictDoNothing({ target: campaignSends.idempotencyKey })
      .returning();
    const fresh = new Map(inserted.map((r) => [r.idempotencyKey, r]));
    const missing = [...new Set(items.map((i) => i.input.idempotencyKey).filter((k) => !fresh.has(k)))];
    const existing = new Map(
      missing.length === 0
        ? []
        : (await db.select().from(campaignSends).where(inArray(campaignSends.idempotencyKey, missing))).map((r) => [r.idempotencyKey, r]),
    );
    // The same key twice in one statement: the first occurrence created it, the second finds it.
    const handedOut = new Set<string>();
    return items.map(({ input: { idempotencyKey: key } }) => {
      const created = fresh.has(key) && !handedOut.has(key);
      handedOut.add(key);
      return { record: toRecord((fresh.get(key) ?? existing.get(key))!), created };
    });
  };
  const markSendingMany = async (items: { id: number; now: Date }[]) => {
    const now = new Date(Math.max(...items.map((i) => i.now.getTime())));
    const ids = items.map((i) => i.id);
    const rows = await db
      .update(campaignSends)
      .set({ status: "sending", attempts: sql`${campaignSends.attempts} + 1`, updatedAt: now, nextAttemptAt: null })
      .where(and(inArray(campaignSends.id, [...new Set(ids)]), eq(campaignSends.status, "queued")))
      .returning({ id: campaignSends.id });
    return firstWins(ids, new Set(rows.map((r) => r.id)));
  };
  const markSentMany = async (items: { id: number; providerMessageId: string | null; now: Date }[]) => {
    const seen = new Set<number>();
    const unique = items.filter((i) => !seen.has(i.id) && seen.add(i.id));
    const values = sql.join(
      unique.map((i) => sql`(${i.id}::bigint, ${i.providerMessageId}::text, ${i.now.toISOString()}::timestamptz)`),
      sql`, `,
    );
    const result = (await db.execute(sql`
      update campaign_sends s
      set status = 'sent', provider_message_id = v.pid, sent_at = v.at, updated_at = v.at, reason = null
      from (values ${values}) as v(id, pid, at)
      where s.id = v.id and s.status = 'sending'
      returning s.id`)) as unknown as { rows: { id: number | string }[] };
    return firstWins(
      items.map((i) => i.id),
      new Set(result.rows.map((r) => Number(r.id))),
    );
  };
  const claim = coalesce(claimMany);
  const markSending = coalesce(markSendingMany);
  const markSent = coalesce(markSentMany);

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
    claim: (input, now, leaseUntil) => claim({ input, now, leaseUntil }),
    markSending: (id, now) => markSending({ id, now }),
    markSent: (id, providerMessageId, now) => markSent({ id, providerMessageId, now }),
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
