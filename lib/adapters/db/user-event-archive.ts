import { and, desc, eq, gt, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { userEvents } from "@/db/schema";
import type { UserEventArchive } from "@/lib/ports/user-events";

const iso = (ms: number) => new Date(ms).toISOString();
/** Epoch milliseconds → timestamptz in SQL, exactly (integer interval arithmetic, no float seconds). */
const EPOCH = sql.raw("timestamptz 'epoch'");
const MS = sql.raw("interval '1 millisecond'");

export function createUserEventArchive(db: Database): UserEventArchive {
  return {
    async append(events) {
      if (events.length === 0) return;
      // One statement per batch with the events as one JSON parameter (cheap to build: no typed
      // array per column); a replayed event (same id) is skipped.
      await db.execute(sql`
        insert into user_events (event_id, user_id, event_type, occurred_at, attributes, session_id, device_id, received_at)
        select (e->>'eventId')::uuid, e->>'userId', e->>'eventType', ${EPOCH} + (e->>'timestamp')::bigint * ${MS},
               coalesce(e->'attributes', '{}'::jsonb), e->>'sessionId', e->>'deviceId', ${EPOCH} + (e->>'receivedAt')::bigint * ${MS}
        from jsonb_array_elements(${JSON.stringify(events)}::jsonb) e
        on conflict (event_id) do nothing`);
    },
    async recent(userId, sinceMs, limit) {
      const rows = await db
        .select()
        .from(userEvents)
        .where(and(eq(userEvents.userId, userId), gt(userEvents.occurredAt, new Date(sinceMs))))
        .orderBy(desc(userEvents.occurredAt), desc(userEvents.id))
        .limit(limit);
      return rows.map((r) => ({
        eventId: r.eventId,
        userId: r.userId,
        eventType: r.eventType,
        timestamp: r.occurredAt.getTime(),
        attributes: (r.attributes ?? {}) as Record<string, unknown>,
        ...(r.sessionId ? { sessionId: r.sessionId } : {}),
        ...(r.deviceId ? { deviceId: r.deviceId } : {}),
        receivedAt: r.receivedAt.getTime(),
      }));
    },
    async purgeBefore(beforeMs) {
      // No RETURNING: at tens of thousands of events a second a minute's purge is millions of rows.
      const r = (await db.execute(sql`delete from user_events where occurred_at < ${iso(beforeMs)}::timestamptz`)) as unknown as {
        rowCount?: number | null;
        affectedRows?: number;
      };
      return Number(r.rowCount ?? r.affectedRows ?? 0);
    },
    async eraseUser(userId) {
      await db.delete(userEvents).where(eq(userEvents.userId, userId));
    },
  };
}
