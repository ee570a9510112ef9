import { json, route } from "@/lib/http/route";
import { auditQuerySchema, listAudit } from "@/lib/services/audit";

// GET /api/v1/audit?actor&action&entityType&entityId&from&to&cursor&limit — newest first (admin)
export const GET = route({ scope: "admin", query: auditQuerySchema }, async ({ query, rt }) =>
  json(await listAudit(rt.accountDeps.audit, query)),
);
