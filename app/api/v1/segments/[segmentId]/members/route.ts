import { json, route, uuidParam } from "@/lib/http/route";
import { pageQuerySchema } from "@/lib/segments/definition";
import { segmentMembers } from "@/lib/services/users";

// GET /api/v1/segments/{id}/members — current members in user-id order (cursor: ?after=)
export const GET = route({ scope: "read", query: pageQuerySchema }, async ({ params, query, rt }) =>
  json(await segmentMembers(rt, uuidParam(params, "segmentId", "Segment"), { after: query.after, limit: query.limit })),
);
