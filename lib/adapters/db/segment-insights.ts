import { sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import type { EventType } from "@/lib/segments/definition";
import type { HourlyActivity, PopulationReader, SegmentActivityReader } from "@/lib/ports/segment-insights";

/** Both drivers answer execute() with { rows }. */
async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Hourly entries and exits from user_segment_history (indexes on (segment_id, entered_at) and
 * (segment_id, exited_at)). Hours are bucketed on the epoch, so they do not depend on the
 * session's time zone.
 */
export function createSegmentActivityReader(db: Database): SegmentActivityReader {
  return {
    async hourly(segmentIds, sinceMs) {
      if (segmentIds.length === 0) return [];
      const ids = sql.param([...segmentIds]);
      const since = iso(sinceMs);
      const [entries, exits] = await Promise.all([
        rows<{ segment_id: string; h: string | number; n: string | number }>(
          db,
          sql`select segment_id, floor(extract(epoch from entered_at) / 3600)::bigint as h, count(*) as n
              from user_segment_history
              where segment_id = any(${ids}::uuid[]) and entered_at >= ${since}::timestamptz
              group by 1, 2`,
        ),
        rows<{ segment_id: string; h: string | number; n: string | number }>(
          db,
          sql`select segment_id, floor(extract(epoch from exited_at) / 3600)::bigint as h, count(*) as n
              from user_segment_history
              where segment_id = any(${ids}::uuid[]) and exited_at >= ${since}::timestamptz
              group by 1, 2`,
        ),
      ]);
      const out = new Map<string, HourlyActivity>();
      const at = (segmentId: string, h: string | number) => {
        const hourMs = Number(h) * 3_600_000;
        const key = `${segmentId}|${hourMs}`;
        let row = out.get(key);
        if (!row) out.set(key, (row = { segmentId, hourMs, entries: 0, exits: 0 }));
        return row;
      };
      for (const r of entries) at(r.segment_id, r.h).entries += Number(r.n);
      for (const r of exits) at(r.segment_id, r.h).exits += Number(r.n);
      return [...out.values()].sort((a, b) => a.hourMs - b.hourMs);
    },
  };
}

/** The population a size estimate runs over: users with retained events, and profile-only users. */
export function createPopulationReader(db: Database): PopulationReader {
  return {
    async countActiveUsers(sinceMs) {
      const [r] = await rows<{ n: string | number }>(
        db,
        sql`select count(distinct user_id) as n from user_events where occurred_at > ${iso(sinceMs)}::timestamptz`,
      );
      return Number(r?.n ?? 0);
    },
    async countQuietProfiles(sinceMs) {
      const [r] = await rows<{ n: string | number }>(
        db,
        sql`select count(*) as n from user_profiles p
            where not exists (select 1 from user_events e where e.user_id = p.user_id and e.occurred_at > ${iso(sinceMs)}::timestamptz)`,
      );
      return Number(r?.n ?? 0);
    },
    async activeUsers(sinceMs, { bucketsOf1024, limit }) {
      const sample = bucketsOf1024 < 1024 ? sql`and (hashtext(user_id) & 1023) < ${bucketsOf1024}` : sql``;
      const r = await rows<{ user_id: string }>(
        db,
        sql`select distinct user_id from user_events
            where occurred_at > ${iso(sinceMs)}::timestamptz ${sample}
            order by user_id limit ${limit}`,
      );
      return r.map((x) => x.user_id);
    },
    async eventsOf(userIds, sinceMs) {
      if (userIds.length === 0) return [];
      const r = await rows<{ user_id: string; event_type: EventType; occurred_at: string | Date; attributes: unknown }>(
        db,
        sql`select user_id, event_type, occurred_at, attributes from user_events
            where user_id = any(${sql.param([...userIds])}::text[]) and occurred_at > ${iso(sinceMs)}::timestamptz`,
      );
      return r.map((x) => ({
        userId: x.user_id,
        eventType: x.event_type,
        timestamp: new Date(x.occurred_at).getTime(),
        attributes: (typeof x.attributes === "string" ? JSON.parse(x.attributes) : (x.attributes ?? {})) as Record<string, unknown>,
      }));
    },
  };
}
