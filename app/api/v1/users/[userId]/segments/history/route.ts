import { json, route } from "@/lib/http/route";
import { pageQuerySchema } from "@/lib/segments/definition";
import { assertUserId, userSegmentHistory } from "@/lib/services/users";

// GET /api/v1/users/{id}/segments/history — entries and exits with causes, newest first
export const GET = route({ scope: "read", query: pageQuerySchema }, async ({ params, query, now, rt }) =>
  json(await userSegmentHistory(rt, assertUserId(params.userId ?? ""), { before: query.before, limit: query.limit }, now)),
);
