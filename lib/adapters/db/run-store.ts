import { and, desc, eq, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { campaignRuns, campaignSends } from "@/db/schema";
import type { CampaignRun, RunStore } from "@/lib/ports/runs";

type Row = typeof campaignRuns.$inferSelect;
const toRun = (r: Row): CampaignRun => ({
  id: r.id,
  campaignId: r.campaignId,
  status: r.status,
  scheduledAt: r.scheduledAt,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  total: r.total,
  cursor: r.cursor,
});

export function createRunStore(db: Database): RunStore {
  return {
    async create({ campaignId, requestedBy, scheduledAt }) {
      const [row] = await db.insert(campaignRuns).values({ campaignId, requestedBy, scheduledAt, status: "SCHEDULED" }).returning();
      return toRun(row!);
    },
    async claimDue(now, staleBefore) {
      // One statement: the row lock makes concurrent dispatchers take different runs.
      const r = (await db.execute(sql`
        update campaign_runs set status = 'RUNNING', started_at = coalesce(started_at, ${now.toISOString()}::timestamptz),
               updated_at = ${now.toISOString()}::timestamptz
        where id = (
          select id from campaign_runs
          where (status = 'SCHEDULED' and scheduled_at <= ${now.toISOString()}::timestamptz)
             or (status = 'RUNNING' and updated_at < ${staleBefore.toISOString()}::timestamptz)
             or (status = 'PAUSED' and exists (select 1 from campaigns c where c.id = campaign_id and c.status = 'ACTIVE'))
          order by scheduled_at limit 1 for update skip locked)
        returning id`)) as unknown as { rows: { id: string }[] };
      const id = r.rows[0]?.id;
      if (!id) return null;
      const [row] = await db.select().from(campaignRuns).where(eq(campaignRuns.id, id));
      return row ? toRun(row) : null;
    },
    async advance(id, fields, now) {
      await db.update(campaignRuns).set({ ...fields, updatedAt: now }).where(eq(campaignRuns.id, id));
    },
    async get(id) {
      const [row] = await db.select().from(campaignRuns).where(eq(campaignRuns.id, id));
      return row ? toRun(row) : null;
    },
    async ofCampaign(campaignId, limit) {
      const rows = await db
        .select()
        .from(campaignRuns)
        .where(eq(campaignRuns.campaignId, campaignId))
        .orderBy(desc(campaignRuns.createdAt))
        .limit(limit);
      return rows.map(toRun);
    },
    async progress(runId) {
      const rows = await db
        .select({ status: campaignSends.status, n: sql<number>`count(*)::int` })
        .from(campaignSends)
        .where(and(eq(campaignSends.runId, runId)))
        .groupBy(campaignSends.status);
      const out = { sent: 0, skipped: 0, failed: 0, queued: 0 };
      for (const r of rows) {
        if (r.status === "sending" || r.status === "queued") out.queued += Number(r.n);
        else out[r.status] += Number(r.n);
      }
      return out;
    },
  };
}
