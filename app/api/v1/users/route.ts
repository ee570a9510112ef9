import { json, route } from "@/lib/http/route";
import { activeUsers } from "@/lib/services/stats";
import { activeUsersQuerySchema } from "@/lib/users/events";

// GET /api/v1/users — recently active users (events evaluated in the last `minutes`, default 60), most recent first
export const GET = route({ scope: "read", query: activeUsersQuerySchema }, async ({ query, now, rt }) =>
  json(await activeUsers(rt.statsDeps, query, now)),
);
