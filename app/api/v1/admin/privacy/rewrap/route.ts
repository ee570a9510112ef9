import { json, route } from "@/lib/http/route";
import { rewrapPersonalData } from "@/lib/services/privacy";

// POST /api/v1/admin/privacy/rewrap — re-encrypt personal data under the current PII key (after a rotation)
export const POST = route({ scope: "admin" }, async ({ actor, traceId, now, rt }) =>
  json(await rewrapPersonalData(rt.privacyDeps, { actor: actor.id, traceId, now })),
);
