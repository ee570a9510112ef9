import { json, route } from "@/lib/http/route";
import { profileInputSchema } from "@/lib/users/profile";
import { assertUserId, getProfile, putProfile } from "@/lib/services/users";

// GET /api/v1/users/{id}/profile — email, phone, device tokens, time zone, attributes
export const GET = route({ scope: "read" }, async ({ params, rt }) => json(await getProfile(rt, assertUserId(params.userId ?? ""))));

// PUT /api/v1/users/{id}/profile — create or replace the profile (201 when created)
export const PUT = route({ scope: "write", body: profileInputSchema }, async ({ params, body, actor, traceId, now, rt }) => {
  const { profile, created } = await putProfile(rt, assertUserId(params.userId ?? ""), body, now, {
    log: rt.accountDeps.audit,
    keys: rt.privacyDeps.keys,
    actor: actor.id,
    traceId,
  });
  return json(profile, created ? 201 : 200);
});
