import { json, route } from "@/lib/http/route";
import { inviteAccount, inviteUserSchema, listAccounts } from "@/lib/services/accounts";

// GET /api/v1/admin/users — the UI's accounts (admin)
export const GET = route({ scope: "admin" }, async ({ rt }) => json({ users: await listAccounts(rt.accountDeps) }));

// POST /api/v1/admin/users — invite: creates the account with a one-time password shown once
export const POST = route({ scope: "admin", body: inviteUserSchema }, async ({ body, actor, traceId, now, rt }) =>
  json(await inviteAccount(rt.accountDeps, body, { actor: actor.id, traceId, now }), 201),
);
