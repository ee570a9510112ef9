import { desc, eq, lt, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { segmentEventMappings, segmentMessageIds, segmentUnmappedEvents } from "@/db/schema";
import type { SegmentIngestStore, UnmappedSample } from "@/lib/ports/segment-ingest";

/** Ids per INSERT statement (PostgreSQL allows 65,535 parameters; three per row). */
const ID_CHUNK = 5_000;

export function createSegmentIngestStore(db: Database): SegmentIngestStore {
  return {
    async once(sourceId, messageIds, now, seenSince, deliver) {
      const ids = [...new Set(messageIds)];
      return db.transaction(async (tx) => {
        const fresh = new Set<string>();
        for (let i = 0; i < ids.length; i += ID_CHUNK) {
          const rows = await tx
            .insert(segmentMessageIds)
            .values(ids.slice(i, i + ID_CHUNK).map((messageId) => ({ sourceId, messageId, receivedAt: now })))
            // An id older than the dedup window counts as new again (it may not be purged yet).
            .onConflictDoUpdate({
              target: [segmentMessageIds.sourceId, segmentMessageIds.messageId],
              set: { receivedAt: now },
              setWhere: lt(segmentMessageIds.receivedAt, seenSince),
            })
            .returning({ messageId: segmentMessageIds.messageId });
          for (const r of rows) fresh.add(r.messageId);
        }
        const unmapped = await deliver(fresh);
        const byName = new Map<string, { count: number; last: UnmappedSample }>();
        for (const s of unmapped) {
          const entry = byName.get(s.name);
          byName.set(s.name, { count: (entry?.count ?? 0) + 1, last: s });
        }
        for (const [name, { count, last }] of byName) {
          await tx
            .insert(segmentUnmappedEvents)
            .values({
              eventName: name,
              count,
              firstSeenAt: now,
              lastSeenAt: now,
              lastUserId: last.userId,
              lastProperties: last.properties,
            })
            .onConflictDoUpdate({
              target: segmentUnmappedEvents.eventName,
              set: {
                count: sql`${segmentUnmappedEvents.count} + ${count}`,
                lastSeenAt: now,
                lastUserId: last.userId,
                lastProperties: last.properties,
              },
            });
        }
        return fresh;
      });
    },
    async purgeMessageIds(before) {
      const rows = await db
        .delete(segmentMessageIds)
        .where(lt(segmentMessageIds.receivedAt, before))
        .returning({ id: segmentMessageIds.messageId });
      return rows.length;
    },
    async mappings() {
      return db.select().from(segmentEventMappings).orderBy(segmentEventMappings.eventName);
    },
    async putMapping(eventName, eventType, actor, now) {
      const [row] = await db
        .insert(segmentEventMappings)
        .values({ eventName, eventType, updatedBy: actor, updatedAt: now })
        .onConflictDoUpdate({ target: segmentEventMappings.eventName, set: { eventType, updatedBy: actor, updatedAt: now } })
        .returning();
      return row!;
    },
    async deleteMapping(eventName) {
      const rows = await db
        .delete(segmentEventMappings)
        .where(eq(segmentEventMappings.eventName, eventName))
        .returning({ eventName: segmentEventMappings.eventName });
      return rows.length > 0;
    },
    async unmapped(limit) {
      const rows = await db
        .select()
        .from(segmentUnmappedEvents)
        .orderBy(desc(segmentUnmappedEvents.count), segmentUnmappedEvents.eventName)
        .limit(limit);
      return rows.map((r) => ({ ...r, lastProperties: (r.lastProperties ?? {}) as Record<string, unknown> }));
    },
  };
}
