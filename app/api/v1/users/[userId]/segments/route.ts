import { json, route } from "@/lib/http/route";
import { assertUserId, userSegments } from "@/lib/services/users";

// GET /api/v1/users/{id}/segments — the user's current segments with names and entry times
export const GET = route({ scope: "read" }, async ({ params, now, rt }) =>
  json(await userSegments(rt, assertUserId(params.userId ?? ""), now)),
);
