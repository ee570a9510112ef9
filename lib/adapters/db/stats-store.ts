import { sql, type SQL } from "drizzle-orm";
import type { Database } from "@/db/client";
import type { StatsStore } from "@/lib/ports/stats";

/** Both drivers answer execute() with { rows }. */
async function rows<T>(db: Database, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const date = (v: string | Date) => (v instanceof Date ? v : new Date(v));
const iso = (d: Date) => d.toISOString();

/**
 * The dashboard's figures in plain SQL, each query bounded by an index: user_events by
 * archived_at, history by (segment_id, entered_at) and (segment_id, exited_at) with the segment
 * ids listed (so PostgreSQL walks the index per segment, not the table), sends by status, the
 * outbox by its pending partial index.
 */
export function createStatsStore(db: Database): StatsStore {
  return {
    async segments() {
      const all = await rows<{ id: string; name: string; type: "INDEPENDENT" | "DERIVED"; active: boolean; deleted: boolean }>(
        db,
        sql`select id, name, type, active, deleted_at is not null as deleted from segments`,
      );
      return {
        live: all.filter((s) => !s.deleted).map(({ id, name, type, active }) => ({ id, name, type, active })),
        allIds: all.map((s) => s.id),
      };
    },

    async ingestion(since, recentSince) {
      // An event is archived after it was received, so archived_at >= since bounds the scan and
      // loses nothing received since then.
      const perMinute = await rows<{ minute: string | Date; count: number }>(
        db,
        sql`select date_trunc('minute', received_at) as minute, count(*)::int as count
            from user_events
            where archived_at >= ${iso(since)}::timestamptz and received_at >= ${iso(since)}::timestamptz
            group by 1 order by 1`,
      );
      const [last] = await rows<{ at: string | Date | null }>(db, sql`select max(archived_at) as at from user_events`);
      const [recent] = await rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from user_events
            where archived_at >= ${iso(recentSince)}::timestamptz and received_at >= ${iso(recentSince)}::timestamptz`,
      );
      return {
        recent: Number(recent?.n ?? 0),
        perMinute: perMinute.map((r) => ({ minute: date(r.minute), count: Number(r.count) })),
        total: perMinute.reduce((a, r) => a + Number(r.count), 0),
        lastArchivedAt: last?.at ? date(last.at) : null,
      };
    },

    async evaluationLag(since, sample) {
      const [r] = await rows<{ n: number; p50: number | null; p95: number | null; max: number | null }>(
        db,
        sql`select count(*)::int as n,
                   percentile_cont(0.5) within group (order by lag_ms) as p50,
                   percentile_cont(0.95) within group (order by lag_ms) as p95,
                   max(lag_ms) as max
            from (select extract(epoch from (archived_at - received_at)) * 1000 as lag_ms
                  from user_events where archived_at >= ${iso(since)}::timestamptz
                  order by archived_at desc limit ${sample}) t`,
      );
      if (!r || Number(r.n) === 0) return null;
      // A negative difference is clock skew between the ingesting web process and the database.
      const ms = (v: number | null) => Math.max(0, Math.round(Number(v ?? 0)));
      return { events: Number(r.n), p50Ms: ms(r.p50), p95Ms: ms(r.p95), maxMs: ms(r.max) };
    },

    async transitionsPerMinute(segmentIds, since) {
      if (segmentIds.length === 0) return [];
      const ids = sql.param([...segmentIds]);
      const r = await rows<{ minute: string | Date; entries: number; exits: number }>(
        db,
        sql`select minute, sum(entries)::int as entries, sum(exits)::int as exits from (
              select date_trunc('minute', entered_at) as minute, count(*) as entries, 0 as exits
              from user_segment_history where segment_id = any(${ids}::uuid[]) and entered_at >= ${iso(since)}::timestamptz
              group by 1
              union all
              select date_trunc('minute', exited_at), 0, count(*)
              from user_segment_history where segment_id = any(${ids}::uuid[]) and exited_at >= ${iso(since)}::timestamptz
              group by 1
            ) t group by minute order by minute`,
      );
      return r.map((x) => ({ minute: date(x.minute), entries: Number(x.entries), exits: Number(x.exits) }));
    },

    async flowBySegment(segmentIds, since) {
      if (segmentIds.length === 0) return [];
      const ids = sql.param([...segmentIds]);
      const r = await rows<{ segment_id: string; entries: number; exits: number }>(
        db,
        sql`select segment_id, sum(entries)::int as entries, sum(exits)::int as exits from (
              select segment_id, count(*) as entries, 0 as exits
              from user_segment_history where segment_id = any(${ids}::uuid[]) and entered_at >= ${iso(since)}::timestamptz
              group by 1
              union all
              select segment_id, 0, count(*)
              from user_segment_history where segment_id = any(${ids}::uuid[]) and exited_at >= ${iso(since)}::timestamptz
              group by 1
            ) t group by segment_id`,
      );
      return r.map((x) => ({ segmentId: x.segment_id, entries: Number(x.entries), exits: Number(x.exits) }));
    },

    async sendsByStatus() {
      const r = await rows<{ status: string; n: number }>(db, sql`select status, count(*)::int as n from campaign_sends group by status`);
      const out = { queued: 0, sending: 0, sent: 0, failed: 0, skipped: 0 };
      for (const x of r) if (x.status in out) out[x.status as keyof typeof out] = Number(x.n);
      return out;
    },

    async checkpoints(groupId) {
      const [r] = await rows<{ n: number; oldest: string | Date | null; newest: string | Date | null }>(
        db,
        sql`select count(*)::int as n, min(updated_at) as oldest, max(updated_at) as newest
            from processor_checkpoints where group_id = ${groupId}`,
      );
      if (!r || Number(r.n) === 0 || !r.oldest || !r.newest) return null;
      return { groupId, partitions: Number(r.n), oldest: date(r.oldest), newest: date(r.newest) };
    },

    async activeUsers(since, limit) {
      const r = await rows<{ user_id: string; n: number; last: string | Date }>(
        db,
        sql`select user_id, count(*)::int as n, max(received_at) as last
            from user_events where archived_at >= ${iso(since)}::timestamptz
            group by user_id order by last desc, user_id limit ${limit}`,
      );
      return r.map((x) => ({ userId: x.user_id, events: Number(x.n), lastEventAt: date(x.last) }));
    },

    async outbox() {
      const [r] = await rows<{ n: number; oldest: string | Date | null }>(
        db,
        sql`select count(*)::int as n, min(created_at) as oldest from outbox where published_at is null`,
      );
      return { pending: Number(r?.n ?? 0), oldest: r?.oldest ? date(r.oldest) : null };
    },
  };
}
