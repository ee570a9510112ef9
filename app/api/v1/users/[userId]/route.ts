import { json, route } from "@/lib/http/route";
import { eraseUser } from "@/lib/services/privacy";
import { assertUserId } from "@/lib/services/users";

// DELETE /api/v1/users/{id} — erase the user everywhere (GDPR art. 17; docs/privacy.md); idempotent
export const DELETE = route({ scope: "admin" }, async ({ params, actor, traceId, now, rt }) =>
  json(await eraseUser(rt.privacyDeps, assertUserId(params.userId ?? ""), { actor: actor.id, traceId, now })),
);
