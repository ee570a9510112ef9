import { json, route, uuidParam } from "@/lib/http/route";
import { updateAccount, updateUserSchema } from "@/lib/services/accounts";

// PATCH /api/v1/admin/users/{id} — change role or name, disable or re-enable (admin)
export const PATCH = route({ scope: "admin", body: updateUserSchema }, async ({ params, body, actor, traceId, now, rt }) =>
  json(await updateAccount(rt.accountDeps, uuidParam(params, "userId", "User"), body, { actor: actor.id, traceId, now })),
);
