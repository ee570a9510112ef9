import { and, asc, eq, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { campaignSends } from "@/db/schema";
import type { SendExportStore } from "@/lib/ports/exports";

export function createSendExportStore(db: Database): SendExportStore {
  return {
    // Keyset on (created_at, id), which campaign_sends_campaign_idx (campaign_id, created_at)
    // serves. The cursor keeps created_at as the database's text, at full (microsecond)
    // precision: a JavaScript Date would round it and repeat or skip rows.
    async page(campaignId, after, limit) {
      const rows = await db
        .select({
          id: campaignSends.id,
          userId: campaignSends.userId,
          channel: campaignSends.channel,
          status: campaignSends.status,
          reason: campaignSends.reason,
          attempts: campaignSends.attempts,
          transitionId: campaignSends.transitionId,
          runId: campaignSends.runId,
          providerMessageId: campaignSends.providerMessageId,
          createdAt: campaignSends.createdAt,
          sentAt: campaignSends.sentAt,
          cursorAt: sql<string>`${campaignSends.createdAt}::text`,
        })
        .from(campaignSends)
        .where(
          and(
            eq(campaignSends.campaignId, campaignId),
            after === null
              ? undefined
              : sql`(${campaignSends.createdAt}, ${campaignSends.id}) > (${after.createdAt}::timestamptz, ${after.id})`,
          ),
        )
        .orderBy(asc(campaignSends.createdAt), asc(campaignSends.id))
        .limit(limit);
      const last = rows.at(-1);
      return {
        rows: rows.map(({ cursorAt: _c, ...r }) => r),
        next: rows.length === limit && last ? { createdAt: last.cursorAt, id: last.id } : null,
      };
    },
  };
}
