/** One campaign send as the CSV export lists it. */
export interface SendExportRow {
  id: number;
  userId: string;
  channel: string;
  status: string;
  reason: string | null;
  attempts: number;
  transitionId: string | null;
  runId: string | null;
  providerMessageId: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

/** Where a page ends: created_at at full database precision (text) and the id. */
export interface SendCursor {
  createdAt: string;
  id: number;
}

/** Read-only paging for exports: keyset cursors, so a page costs the same wherever it starts. */
export interface SendExportStore {
  /** A campaign's sends in (createdAt, id) order, after the cursor. */
  page(campaignId: string, after: SendCursor | null, limit: number): Promise<{ rows: SendExportRow[]; next: SendCursor | null }>;
}
