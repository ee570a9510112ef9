import { AppError } from "@/lib/errors";
import { json, route } from "@/lib/http/route";
import { changePassword, changePasswordSchema } from "@/lib/services/accounts";

// POST /api/v1/me/password — a signed-in person changes their own password
export const POST = route({ scope: "read", body: changePasswordSchema }, async ({ body, actor, traceId, now, rt }) => {
  if (!actor.id.startsWith("user:")) {
    throw new AppError("FORBIDDEN", "Only a signed-in person has a password", { field: "Authorization", reason: "use the UI session" });
  }
  await changePassword(rt.accountDeps, actor.id.slice(5), body, { actor: actor.id, traceId, now });
  return json(null, 204);
});
