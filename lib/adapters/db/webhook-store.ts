import { and, asc, desc, eq, gt, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Database } from "@/db/client";
import { webhookDeliveries, webhookSubscriptions } from "@/db/schema";
import type {
  AttemptLogEntry,
  ClaimedDelivery,
  WebhookDelivery,
  WebhookStore,
  WebhookSubscription,
} from "@/lib/ports/webhooks";
import type { WebhookEvent } from "@/lib/webhooks/webhook";

type SubRow = typeof webhookSubscriptions.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Attempts kept in a delivery's log. */
const ATTEMPT_LOG_SIZE = 10;

const toSubscription = (r: SubRow): WebhookSubscription => ({
  id: r.id,
  description: r.description,
  url: r.url,
  segmentId: r.segmentId,
  events: r.events as WebhookEvent[],
  enabled: r.enabled,
  disabledReason: r.disabledReason,
  disabledAt: r.disabledAt,
  consecutiveFailures: r.consecutiveFailures,
  secretHint: r.secretHint,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  subscriptionId: r.subscriptionId,
  transitionId: r.transitionId,
  event: r.event,
  segmentId: r.segmentId,
  userId: r.userId,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.nextAttemptAt,
  lastAttemptAt: r.lastAttemptAt,
  lastResponseCode: r.lastResponseCode,
  lastError: r.lastError,
  attemptLog: (r.attemptLog ?? []) as AttemptLogEntry[],
  createdAt: r.createdAt,
  deliveredAt: r.deliveredAt,
});

/** Cursor of the deliveries list: created_at and id of the last row. */
const encodeCursor = (d: { createdAt: Date; id: string }) => Buffer.from(`${d.createdAt.toISOString()}|${d.id}`).toString("base64url");
function decodeCursor(cursor: string): { createdAt: Date; id: string } | null {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const createdAt = new Date(at ?? "");
  return id && !Number.isNaN(createdAt.getTime()) ? { createdAt, id } : null;
}

const appendAttempt = (entry: AttemptLogEntry): SQL =>
  // Newest last; only the last ATTEMPT_LOG_SIZE kept.
  sql`(select coalesce(jsonb_agg(e order by n), '[]'::jsonb) from (
         select e, n from jsonb_array_elements(${webhookDeliveries.attemptLog} || ${JSON.stringify([entry])}::jsonb)
           with ordinality as x(e, n)
         order by n desc limit ${ATTEMPT_LOG_SIZE}) as kept)`;

export function createWebhookStore(db: Database): WebhookStore {
  return {
    async create(input, now) {
      const [row] = await db
        .insert(webhookSubscriptions)
        .values({ ...input, createdAt: now, updatedAt: now, disabledAt: input.enabled ? null : now, disabledReason: input.enabled ? null : "disabled by a caller" })
        .returning();
      return toSubscription(row!);
    },
    async list({ after, limit }) {
      let where: SQL | undefined;
      if (after) {
        const [cursor] = await db.select({ createdAt: webhookSubscriptions.createdAt }).from(webhookSubscriptions).where(eq(webhookSubscriptions.id, after));
        if (cursor) {
          where = or(
            gt(webhookSubscriptions.createdAt, cursor.createdAt),
            and(eq(webhookSubscriptions.createdAt, cursor.createdAt), gt(webhookSubscriptions.id, after)),
          );
        }
      }
      const rows = await db
        .select()
        .from(webhookSubscriptions)
        .where(where)
        .orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id))
        .limit(limit + 1);
      const data = rows.slice(0, limit).map(toSubscription);
      return { data, next: rows.length > limit ? data.at(-1)!.id : null };
    },
    async get(id) {
      const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
      return row ? toSubscription(row) : null;
    },
    async update(id, patch, now, reason) {
      const { enabled, ...rest } = patch;
      const values: Partial<typeof webhookSubscriptions.$inferInsert> = { ...rest, updatedAt: now };
      if (enabled === true) Object.assign(values, { enabled: true, consecutiveFailures: 0, disabledReason: null, disabledAt: null });
      if (enabled === false) Object.assign(values, { enabled: false, disabledReason: reason ?? "disabled by a caller", disabledAt: now });
      const [row] = await db.update(webhookSubscriptions).set(values).where(eq(webhookSubscriptions.id, id)).returning();
      return row ? toSubscription(row) : null;
    },
    async delete(id) {
      const rows = await db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id });
      return rows.length > 0;
    },
    async deliveries(subscriptionId, { before, limit, status }) {
      const cursor = before ? decodeCursor(before) : null;
      const rows = await db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.subscriptionId, subscriptionId),
            status ? eq(webhookDeliveries.status, status) : undefined,
            cursor
              ? or(
                  lt(webhookDeliveries.createdAt, cursor.createdAt),
                  and(eq(webhookDeliveries.createdAt, cursor.createdAt), lt(webhookDeliveries.id, cursor.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(limit + 1);
      const data = rows.slice(0, limit).map(toDelivery);
      return { data, next: rows.length > limit ? encodeCursor(data.at(-1)!) : null };
    },
    async matching(segmentIds) {
      const rows = await db
        .select()
        .from(webhookSubscriptions)
        .where(
          and(
            eq(webhookSubscriptions.enabled, true),
            segmentIds.length > 0
              ? or(isNull(webhookSubscriptions.segmentId), inArray(webhookSubscriptions.segmentId, [...segmentIds]))
              : isNull(webhookSubscriptions.segmentId),
          ),
        );
      return rows.map(toSubscription);
    },
    async enqueue(deliveries, now) {
      if (deliveries.length === 0) return;
      await db
        .insert(webhookDeliveries)
        .values(deliveries.map((d) => ({ ...d, status: "pending" as const, nextAttemptAt: now, createdAt: now })))
        .onConflictDoNothing({ target: [webhookDeliveries.subscriptionId, webhookDeliveries.transitionId] });
    },
    async claimDue(now, leaseUntil, limit) {
      // One statement: the row locks make concurrent dispatchers take different deliveries.
      const claimed = (await db.execute(sql`
        update webhook_deliveries set next_attempt_at = ${leaseUntil.toISOString()}::timestamptz
        where id in (
          select d.id from webhook_deliveries d
          join webhook_subscriptions s on s.id = d.subscription_id
          where d.status = 'pending' and d.next_attempt_at <= ${now.toISOString()}::timestamptz and s.enabled
          order by d.next_attempt_at
          limit ${limit}
          for update of d skip locked)
        returning id`)) as unknown as { rows: { id: string }[] };
      const ids = claimed.rows.map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = await db
        .select({ d: webhookDeliveries, url: webhookSubscriptions.url, secretCiphertext: webhookSubscriptions.secretCiphertext })
        .from(webhookDeliveries)
        .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
        .where(inArray(webhookDeliveries.id, ids))
        .orderBy(asc(webhookDeliveries.createdAt));
      return rows.map((r): ClaimedDelivery => ({ ...toDelivery(r.d), payload: r.d.payload, url: r.url, secretCiphertext: r.secretCiphertext }));
    },
    async recordSuccess(delivery, attempt, now) {
      await db
        .update(webhookDeliveries)
        .set({
          status: "delivered",
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          nextAttemptAt: null,
          lastAttemptAt: now,
          lastResponseCode: attempt.responseCode,
          lastError: null,
          deliveredAt: now,
          attemptLog: appendAttempt(attempt),
        })
        .where(eq(webhookDeliveries.id, delivery.id));
      await db
        .update(webhookSubscriptions)
        .set({ consecutiveFailures: 0 })
        .where(and(eq(webhookSubscriptions.id, delivery.subscriptionId), gt(webhookSubscriptions.consecutiveFailures, 0)));
    },
    async recordFailure(delivery, attempt, retryAt, disable, now) {
      await db
        .update(webhookDeliveries)
        .set({
          status: retryAt ? "pending" : "failed",
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          nextAttemptAt: retryAt,
          lastAttemptAt: now,
          lastResponseCode: attempt.responseCode,
          lastError: attempt.error,
          attemptLog: appendAttempt(attempt),
        })
        .where(eq(webhookDeliveries.id, delivery.id));
      const [sub] = await db
        .update(webhookSubscriptions)
        .set({ consecutiveFailures: sql`${webhookSubscriptions.consecutiveFailures} + 1` })
        .where(eq(webhookSubscriptions.id, delivery.subscriptionId))
        .returning({ failures: webhookSubscriptions.consecutiveFailures, enabled: webhookSubscriptions.enabled });
      if (!sub || !sub.enabled || sub.failures < disable.after) return { disabled: false };
      // Only the update that finds it still enabled disables it (and writes the reason).
      const disabled = await db
        .update(webhookSubscriptions)
        .set({ enabled: false, disabledReason: disable.reason(sub.failures), disabledAt: now, updatedAt: now })
        .where(and(eq(webhookSubscriptions.id, delivery.subscriptionId), eq(webhookSubscriptions.enabled, true)))
        .returning({ id: webhookSubscriptions.id });
      return { disabled: disabled.length > 0 };
    },
  };
}
