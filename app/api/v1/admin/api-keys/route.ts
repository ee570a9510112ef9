import { json, route } from "@/lib/http/route";
import { createApiKey, createApiKeySchema, listApiKeys } from "@/lib/services/accounts";

// GET /api/v1/admin/api-keys — keys with scopes, creator, last use and revocation (never the key)
export const GET = route({ scope: "admin" }, async ({ rt }) => json({ apiKeys: await listApiKeys(rt.accountDeps) }));

// POST /api/v1/admin/api-keys — {"name","scopes":["ingest"|"read"|"admin"]}; the key is in this answer only
export const POST = route({ scope: "admin", body: createApiKeySchema }, async ({ body, actor, traceId, now, rt }) =>
  json(await createApiKey(rt.accountDeps, body, { actor: actor.id, traceId, now }), 201),
);
