import { json, route } from "@/lib/http/route";
import { revokeApiKey } from "@/lib/services/accounts";

// DELETE /api/v1/admin/api-keys/{id} — revoke (the row stays, for the audit trail)
export const DELETE = route({ scope: "admin" }, async ({ params, actor, traceId, now, rt }) =>
  json({ apiKey: await revokeApiKey(rt.accountDeps, params.keyId ?? "", { actor: actor.id, traceId, now }) }),
);
