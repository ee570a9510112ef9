import { json, route, uuidParam } from "@/lib/http/route";
import { memberPageQuerySchema } from "@/lib/segments/insights";
import { segmentMembers } from "@/lib/services/users";

// GET /api/v1/segments/{id}/members — current members in user-id order (cursor: ?after=, ?search= user-id prefix)
export const GET = route({ scope: "read", query: memberPageQuerySchema }, async ({ params, query, rt }) =>
  json(
    await segmentMembers(rt, uuidParam(params, "segmentId", "Segment"), {
      after: query.after,
      limit: query.limit,
      prefix: query.search || undefined,
    }),
  ),
);
