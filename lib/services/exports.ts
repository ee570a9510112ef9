import { notFound } from "@/lib/errors";
import { csvRow } from "@/lib/export/csv";
import type { CampaignStore } from "@/lib/ports/campaigns";
import type { SendCursor, SendExportStore } from "@/lib/ports/exports";
import type { MembershipStore } from "@/lib/ports/memberships";
import type { SegmentStore } from "@/lib/ports/segments";

/**
 * CSV exports, streamed: the first page is read before answering (so a missing segment is a 404
 * and a database outage a 503), then one page per pull of the stream — memory stays at one page
 * whatever the size, and a client that stops reading stops the paging.
 */
export const EXPORT_PAGE_SIZE = 1000;

export interface CsvExport {
  filename: string;
  stream: ReadableStream<Uint8Array>;
}

type Page<R, C> = { rows: R[]; next: C | null };

function pagedCsv<R, C>(header: readonly string[], first: Page<R, C>, nextPage: (cursor: C) => Promise<Page<R, C>>, toRow: (r: R) => unknown[]) {
  const encoder = new TextEncoder();
  let page: Page<R, C> | null = first;
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(csvRow(header)));
          return;
        }
        if (page === null) {
          controller.close();
          return;
        }
        const current: Page<R, C> = page;
        if (current.rows.length > 0) controller.enqueue(encoder.encode(current.rows.map((r) => csvRow(toRow(r))).join("")));
        page = current.next === null ? null : await nextPage(current.next);
        if (page === null) controller.close();
      },
    },
    // Pull only when the reader asks: no read-ahead beyond the page in hand.
    { highWaterMark: 0 },
  );
}

// GET /api/v1/segments/{id}/members.csv
export async function exportSegmentMembers(
  deps: { segments: Pick<SegmentStore, "get">; memberships: Pick<MembershipStore, "members"> },
  segmentId: string,
  pageSize = EXPORT_PAGE_SIZE,
): Promise<CsvExport> {
  if (!(await deps.segments.get(segmentId))) throw notFound("Segment", segmentId);
  const read = async (after: string | undefined) => {
    const p = await deps.memberships.members(segmentId, { after, limit: pageSize });
    return { rows: p.members, next: p.next };
  };
  return {
    filename: `segment-${segmentId}-members.csv`,
    stream: pagedCsv(["user_id", "entered_at"], await read(undefined), read, (m) => [m.userId, m.enteredAt]),
  };
}

// GET /api/v1/campaigns/{id}/sends.csv
export async function exportCampaignSends(
  deps: { campaigns: Pick<CampaignStore, "get">; sendExport: SendExportStore },
  campaignId: string,
  pageSize = EXPORT_PAGE_SIZE,
): Promise<CsvExport> {
  if (!(await deps.campaigns.get(campaignId))) throw notFound("Campaign", campaignId);
  const read = (after: SendCursor | null) => deps.sendExport.page(campaignId, after, pageSize);
  return {
    filename: `campaign-${campaignId}-sends.csv`,
    stream: pagedCsv(
      ["send_id", "user_id", "channel", "status", "reason", "attempts", "transition_id", "run_id", "provider_message_id", "created_at", "sent_at"],
      await read(null),
      read,
      (s) => [s.id, s.userId, s.channel, s.status, s.reason, s.attempts, s.transitionId, s.runId, s.providerMessageId, s.createdAt, s.sentAt],
    ),
  };
}
