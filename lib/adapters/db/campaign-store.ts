import { and, count, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { auditLog, campaignRuns, campaignSends, campaigns, segments } from "@/db/schema";
import type { CampaignPolicy } from "@/lib/campaigns/policy";
import type { Campaign, CampaignStore, CampaignTx, DeliveryStats } from "@/lib/ports/campaigns";

type Executor = Pick<Database, "select" | "insert" | "update" | "delete" | "execute">;
type Row = typeof campaigns.$inferSelect;

const toCampaign = (r: Row): Campaign => ({
  id: r.id,
  name: r.name,
  segmentId: r.segmentId,
  channelType: r.channelType,
  trigger: r.trigger,
  subject: r.subject,
  template: r.template,
  status: r.status,
  scheduledAt: r.scheduledAt,
  policy: (r.policy ?? {}) as CampaignPolicy,
  version: r.version,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

const toRow = (c: Campaign) => ({
  name: c.name,
  segmentId: c.segmentId,
  channelType: c.channelType,
  trigger: c.trigger,
  subject: c.subject,
  template: c.template,
  status: c.status,
  scheduledAt: c.scheduledAt,
  policy: c.policy,
  version: c.version,
  updatedAt: c.updatedAt,
});

function campaignTx(tx: Executor): CampaignTx {
  return {
    getForUpdate: async (id) => {
      const [row] = await tx.select().from(campaigns).where(eq(campaigns.id, id)).for("update");
      return row ? toCampaign(row) : null;
    },
    segment: async (id) => {
      const [row] = await tx
        .select({ id: segments.id, name: segments.name, active: segments.active, deletedAt: segments.deletedAt })
        .from(segments)
        .where(eq(segments.id, id));
      return row ? { id: row.id, name: row.name, active: row.active, deleted: row.deletedAt !== null } : null;
    },
    insert: async (c) => {
      await tx.insert(campaigns).values({ ...toRow(c), id: c.id, createdBy: c.createdBy, createdAt: c.createdAt });
    },
    update: async (c) => {
      await tx.update(campaigns).set(toRow(c)).where(eq(campaigns.id, c.id));
    },
    delete: async (id) => {
      await tx.delete(campaigns).where(eq(campaigns.id, id));
    },
    audit: async (e) => {
      await tx.insert(auditLog).values({ ...e, before: e.before ?? null, after: e.after ?? null });
    },
    scheduleRun: async ({ campaignId, requestedBy, scheduledAt }) => {
      await tx.insert(campaignRuns).values({ campaignId, requestedBy, scheduledAt, status: "SCHEDULED" });
    },
  };
}

export function createCampaignStore(db: Database): CampaignStore {
  return {
    transaction: (fn) => db.transaction((tx) => fn(campaignTx(tx))),
    get: async (id) => {
      const [row] = await db.select().from(campaigns).where(eq(campaigns.id, id));
      return row ? toCampaign(row) : null;
    },
    list: async (q) => {
      const filters = [];
      if (q.status) filters.push(eq(campaigns.status, q.status));
      if (q.segmentId) filters.push(eq(campaigns.segmentId, q.segmentId));
      if (q.channelType) filters.push(eq(campaigns.channelType, q.channelType));
      const where = filters.length > 0 ? and(...filters) : undefined;
      const [rows, [total]] = await Promise.all([
        db
          .select()
          .from(campaigns)
          .where(where)
          .orderBy(desc(campaigns.createdAt), desc(campaigns.id))
          .limit(q.pageSize)
          .offset((q.page - 1) * q.pageSize),
        db.select({ n: count() }).from(campaigns).where(where),
      ]);
      return { items: rows.map(toCampaign), total: total?.n ?? 0 };
    },
    analytics: async (id, { bucket, since, conversionWindowMs }) => {
      const series = (await db.execute(sql`
        select date_trunc(${bucket}, coalesce(sent_at, updated_at)) as bucket, channel, status, count(*)::int as count
        from campaign_sends
        where campaign_id = ${id} and coalesce(sent_at, updated_at) >= ${since.toISOString()}::timestamptz
        group by 1, 2, 3 order by 1, 2, 3`)) as unknown as { rows: { bucket: string | Date; channel: string; status: string; count: number }[] };
      const [conv] = ((await db.execute(sql`
        select count(*)::int as sent,
               count(*) filter (where exists (
                 select 1 from user_events e
                 where e.user_id = s.user_id and e.event_type = 'orders'
                   and e.occurred_at > s.sent_at and e.occurred_at <= s.sent_at + ${conversionWindowMs} * interval '1 millisecond'
               ))::int as converted
        from campaign_sends s
        where s.campaign_id = ${id} and s.status = 'sent' and s.sent_at >= ${since.toISOString()}::timestamptz`)) as unknown as {
        rows: { sent: number; converted: number }[];
      }).rows;
      return {
        series: series.rows.map((r) => ({ bucket: new Date(r.bucket), channel: r.channel, status: r.status, count: Number(r.count) })),
        conversions: { sent: Number(conv?.sent ?? 0), converted: Number(conv?.converted ?? 0) },
      };
    },
    activeFor: async (segmentIds, triggers) => {
      if (segmentIds.length === 0 || triggers.length === 0) return [];
      const rows = await db
        .select()
        .from(campaigns)
        .where(
          and(
            eq(campaigns.status, "ACTIVE"),
            inArray(campaigns.segmentId, [...segmentIds]),
            inArray(campaigns.trigger, [...triggers]),
          ),
        );
      return rows.map(toCampaign);
    },
    sends: async (id, { before, limit, status }) => {
      const filters = [eq(campaignSends.campaignId, id)];
      if (before !== undefined) filters.push(lt(campaignSends.id, before));
      if (status) filters.push(eq(campaignSends.status, status));
      const rows = await db
        .select()
        .from(campaignSends)
        .where(and(...filters))
        .orderBy(desc(campaignSends.id))
        .limit(limit + 1);
      const items = rows.slice(0, limit).map((r) => ({
        id: r.id,
        userId: r.userId,
        channel: r.channel,
        runId: r.runId,
        status: r.status,
        reason: r.reason,
        attempts: r.attempts,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        sentAt: r.sentAt,
        nextAttemptAt: r.nextAttemptAt,
      }));
      return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
    },
    deliveryStats: async (id) => {
      const rows = await db
        .select({ status: campaignSends.status, n: sql<number>`count(*)::int` })
        .from(campaignSends)
        .where(eq(campaignSends.campaignId, id))
        .groupBy(campaignSends.status);
      const byStatus: DeliveryStats["byStatus"] = { queued: 0, sending: 0, sent: 0, failed: 0, skipped: 0 };
      for (const r of rows) byStatus[r.status] = Number(r.n);
      return { byStatus, total: Object.values(byStatus).reduce((a, b) => a + b, 0) };
    },
  };
}
