import { json, route } from "@/lib/http/route";
import { userEventsQuerySchema } from "@/lib/users/events";
import { assertUserId, recentUserEvents } from "@/lib/services/users";

// GET /api/v1/users/{id}/events — the user's newest events of the last 24 h, newest first (`limit` ≤ 500)
export const GET = route({ scope: "read", query: userEventsQuerySchema }, async ({ params, query, now, rt }) =>
  json(await recentUserEvents(rt, assertUserId(params.userId ?? ""), query.limit, now)),
);
