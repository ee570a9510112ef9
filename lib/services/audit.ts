import { z } from "zod";
import type { AuditLog } from "@/lib/ports/auth";

const isoDate = z.iso.datetime({ offset: true, error: "must be an ISO-8601 date-time" }).transform((s) => new Date(s));

export const auditQuerySchema = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  entityType: z.string().max(100).optional(),
  entityId: z.string().max(200).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  cursor: z.coerce.number().int().positive({ error: "must be a positive integer" }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** Newest first; `nextCursor` pages on. */
export async function listAudit(audit: AuditLog, q: z.output<typeof auditQuerySchema>) {
  const rows = await audit.list({ ...q, before: q.cursor, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  return {
    entries: page.map((r) => ({ ...r, at: r.at.toISOString() })),
    nextCursor: rows.length > q.limit ? String(page[page.length - 1]!.id) : null,
  };
}
