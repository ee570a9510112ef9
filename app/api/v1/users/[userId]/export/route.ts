import { json, route } from "@/lib/http/route";
import { exportUser } from "@/lib/services/privacy";
import { assertUserId } from "@/lib/services/users";

// GET /api/v1/users/{id}/export — everything held about the user as JSON (GDPR art. 15/20); audited
export const GET = route({ scope: "admin" }, async ({ params, actor, traceId, now, rt }) => {
  const userId = assertUserId(params.userId ?? "");
  const data = await exportUser(rt.privacyDeps, userId, { actor: actor.id, traceId, now });
  return json(data, 200, {
    "content-disposition": `attachment; filename="user-${encodeURIComponent(userId).slice(0, 100)}.json"`,
    "cache-control": "no-store",
  });
});
