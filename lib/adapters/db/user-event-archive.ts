import { and, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { userEvents } from "@/db/schema";
import type { UserEventArchive } from "@/lib/ports/user-events";

const iso = (ms: number) => new Date(ms).toISOString();

export function createUserEventArchive(db: Database): UserEventArchive {
  return {
    async append(events) {
      if (events.length === 0) return;
      // One statement per batch; a replayed event (same id) is skipped.
      await db.execute(sql`
        insert into user_events (event_id, user_id, event_type, occurred_at, attributes, session_id, device_id, received_at)
        select * from unnest(
          ${sql.param(events.map((e) => e.eventId))}::uuid[], ${sql.param(events.map((e) => e.userId))}::text[],
          ${sql.param(events.map((e) => e.eventType))}::text[], ${sql.param(events.map((e) => iso(e.timestamp)))}::timestamptz[],
          ${sql.param(events.map((e) => JSON.stringify(e.attributes)))}::jsonb[],
          ${sql.param(events.map((e) => e.sessionId ?? null))}::text[], ${sql.param(events.map((e) => e.deviceId ?? null))}::text[],
          ${sql.param(events.map((e) => iso(e.receivedAt)))}::timestamptz[])
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
      const r = await db.delete(userEvents).where(lt(userEvents.occurredAt, new Date(beforeMs))).returning({ id: userEvents.id });
      return r.length;
    },
    async eraseUser(userId) {
      await db.delete(userEvents).where(eq(userEvents.userId, userId));
    },
  };
}
