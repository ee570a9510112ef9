import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { bootstrapAdmin, signIn } from "@/lib/services/accounts";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as users from "./users/route";
import * as user from "./users/[userId]/route";
import * as keys from "./api-keys/route";
import * as key from "./api-keys/[keyId]/route";
import * as audit from "../audit/route";
import * as password from "../me/password/route";
import * as segments from "../segments/route";
import * as profile from "../users/[userId]/profile/route";
import * as webhooks from "../webhooks/route";
import * as webhook from "../webhooks/[webhookId]/route";

describe.each(engineCases)("accounts, roles and API keys on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const now = () => env.rt.clock.now();
  /** A next-auth session cookie for an account, as the browser would send it. */
  const cookieFor = async (id: string) =>
    `next-auth.session-token=${await encode({ token: { sub: id }, secret: env.rt.authSecret })}`;
  const asSession = async (id: string, extra: Record<string, string> = {}) => ({
    key: null,
    headers: { cookie: await cookieFor(id), host: "localhost", origin: "http://localhost", ...extra },
  });

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
    expect(await bootstrapAdmin(env.rt.accountDeps, "Root@Example.com", "root-password-1", now())).toBe(true);
    expect(await bootstrapAdmin(env.rt.accountDeps, "root@example.com", "other-password", now())).toBe(false);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("signs in with the right password only, auditing every attempt", async () => {
    expect(await signIn(env.rt.accountDeps, "ROOT@example.com ", "root-password-1", now())).toMatchObject({ role: "admin", email: "root@example.com" });
    expect(await signIn(env.rt.accountDeps, "root@example.com", "wrong-password", now())).toBeNull();
    expect(await signIn(env.rt.accountDeps, "nobody@example.com", "root-password-1", now())).toBeNull();
    const log = await call(audit.GET, "GET", { query: { entityType: "user" } });
    expect(log.status).toBe(200);
    const actions = log.body.entries.map((e: { action: string }) => e.action);
    expect(actions.filter((a: string) => a === "auth.sign_in_failed")).toHaveLength(2);
    expect(actions).toContain("auth.sign_in");
    expect(actions).toContain("user.create");
  });

  it("invites people with a one-time password, rejects duplicates and bad input", async () => {
    const res = await call(users.POST, "POST", { body: { email: "Vera@Example.com", name: "Vera", role: "viewer" } });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: "vera@example.com", role: "viewer", mustChangePassword: true });
    expect(res.body.temporaryPassword.length).toBeGreaterThanOrEqual(16);
    expect(await signIn(env.rt.accountDeps, "vera@example.com", res.body.temporaryPassword, now())).toMatchObject({ mustChangePassword: true });

    const dup = await call(users.POST, "POST", { body: { email: "vera@example.com", name: "V2", role: "viewer" } });
    expect(dup.status).toBe(409);
    expectSeedError(dup.body, "CONFLICT", "email");
    const bad = await call(users.POST, "POST", { body: { email: "nope", name: "", role: "owner" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors.map((e: { field: string }) => e.field).sort()).toEqual(["email", "name", "role"]);
  });

  it("maps session roles to permissions: a viewer reads but cannot save, a marketer edits, only admins administer", async () => {
    const viewer = (await call(users.POST, "POST", { body: { email: "viewer2@example.com", name: "View", role: "viewer" } })).body.user;
    const marketer = (await call(users.POST, "POST", { body: { email: "mark@example.com", name: "Mark", role: "marketer" } })).body.user;
    const seg = { name: `Carts ${Math.random()}`, type: "INDEPENDENT", rules: [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }] };

    expect((await call(segments.GET, "GET", await asSession(viewer.id))).status).toBe(200);
    const denied = await call(segments.POST, "POST", { ...(await asSession(viewer.id)), body: seg });
    expect(denied.status).toBe(403);
    expectSeedError(denied.body, "FORBIDDEN", "Authorization");
    expect((await call(users.GET, "GET", await asSession(viewer.id))).status).toBe(403);

    expect((await call(segments.POST, "POST", { ...(await asSession(marketer.id)), body: seg })).status).toBe(201);
    expect((await call(users.GET, "GET", await asSession(marketer.id))).status).toBe(403);
    expect((await call(audit.GET, "GET", await asSession(marketer.id))).status).toBe(403);

    // A promotion applies at once (the role is read from the account, not the token).
    expect((await call(user.PATCH, "PATCH", { params: { userId: viewer.id }, body: { role: "marketer" } })).status).toBe(200);
    expect((await call(segments.POST, "POST", { ...(await asSession(viewer.id)), body: { ...seg, name: `${seg.name} 2` } })).status).toBe(201);
    // A disabled account's session stops working.
    expect((await call(user.PATCH, "PATCH", { params: { userId: viewer.id }, body: { disabled: true } })).status).toBe(200);
    expect((await call(segments.GET, "GET", await asSession(viewer.id))).status).toBe(401);
  });

  it("refuses cookie-authenticated writes from another origin and forged or expired tokens", async () => {
    const marketer = (await call(users.POST, "POST", { body: { email: "csrf@example.com", name: "C", role: "marketer" } })).body.user;
    const seg = { name: `X ${Math.random()}`, type: "INDEPENDENT", rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] };
    const cross = await call(segments.POST, "POST", { ...(await asSession(marketer.id, { origin: "https://evil.example" })), body: seg });
    expect(cross.status).toBe(403);
    expectSeedError(cross.body, "FORBIDDEN", "Origin");
    const noOrigin = await call(segments.POST, "POST", { key: null, headers: { cookie: await cookieFor(marketer.id), host: "localhost" }, body: seg });
    expect(noOrigin.status).toBe(403);

    const forged = `next-auth.session-token=${await encode({ token: { sub: marketer.id }, secret: "another-secret-another-secret-1234" })}`;
    expect((await call(segments.GET, "GET", { key: null, headers: { cookie: forged } })).status).toBe(401);
    const expired = `next-auth.session-token=${await encode({ token: { sub: marketer.id }, secret: env.rt.authSecret, maxAge: -120 })}`;
    expect((await call(segments.GET, "GET", { key: null, headers: { cookie: expired } })).status).toBe(401);
  });

  it("admins cannot demote or disable themselves", async () => {
    const root = await env.rt.accountDeps.accounts.findByEmail("root@example.com");
    const res = await call(user.PATCH, "PATCH", { ...(await asSession(root!.id)), params: { userId: root!.id }, body: { role: "viewer" } });
    expect(res.status).toBe(409);
    expectSeedError(res.body, "CONFLICT", "role");
  });

  it("changes one's own password with the current one", async () => {
    const invited = (await call(users.POST, "POST", { body: { email: "pw@example.com", name: "P", role: "viewer" } })).body;
    const session = await asSession(invited.user.id);
    const wrong = await call(password.POST, "POST", { ...session, body: { currentPassword: "nope", newPassword: "a-new-password-1" } });
    expect(wrong.status).toBe(400);
    expectSeedError(wrong.body, "VALIDATION_ERROR", "currentPassword");
    const ok = await call(password.POST, "POST", { ...session, body: { currentPassword: invited.temporaryPassword, newPassword: "a-new-password-1" } });
    expect(ok.status).toBe(204);
    expect(await signIn(env.rt.accountDeps, "pw@example.com", "a-new-password-1", now())).toMatchObject({ mustChangePassword: false });
    expect(await signIn(env.rt.accountDeps, "pw@example.com", invited.temporaryPassword, now())).toBeNull();
    // An API key is not a person.
    expect((await call(password.POST, "POST", { body: { currentPassword: "x", newPassword: "a-new-password-1" } })).status).toBe(403);
  });

  it("creates scoped API keys shown once, stores them hashed, and revokes them", async () => {
    const created = await call(keys.POST, "POST", { body: { name: "shop", scopes: ["read", "read"] } });
    expect(created.status).toBe(201);
    expect(created.body.apiKey.scopes).toEqual(["read"]);
    const secret: string = created.body.key;
    expect(secret).toMatch(/^am_/);
    const listed = await call(keys.GET, "GET");
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(listed.body.apiKeys[0]).toMatchObject({ name: "shop", prefix: secret.slice(0, 10), revokedAt: null });

    expect((await call(segments.GET, "GET", { key: secret })).status).toBe(200);
    // Last use is recorded (in the background), then kept to the minute: no write per request.
    const lastUsed = async () => (await env.rt.apiKeys.get(created.body.apiKey.id))?.lastUsedAt?.getTime() ?? null;
    const first = await eventually(lastUsed, (t) => t !== null, "last use recorded");
    expect((await call(segments.GET, "GET", { key: secret })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(await lastUsed()).toBe(first);
    expect((await call(segments.POST, "POST", { key: secret, body: {} })).status).toBe(403);
    expect((await call(keys.POST, "POST", { body: { name: "bad", scopes: ["write"] } })).status).toBe(400);

    const revoked = await call(key.DELETE, "DELETE", { params: { keyId: created.body.apiKey.id } });
    expect(revoked.status).toBe(200);
    expect(revoked.body.apiKey.revokedAt).not.toBeNull();
    expect((await call(segments.GET, "GET", { key: secret })).status).toBe(401);
    expect((await call(key.DELETE, "DELETE", { params: { keyId: created.body.apiKey.id } })).status).toBe(409);
    expect((await call(key.DELETE, "DELETE", { params: { keyId: "not-a-uuid" } })).status).toBe(404);

    const trail = await call(audit.GET, "GET", { query: { entityType: "api_key", limit: "1" } });
    expect(trail.body.entries[0]).toMatchObject({ action: "api_key.revoke", actor: "admin-api-key" });
    expect(trail.body.nextCursor).not.toBeNull();
    const older = await call(audit.GET, "GET", { query: { entityType: "api_key", cursor: trail.body.nextCursor } });
    expect(older.body.entries[0]).toMatchObject({ action: "api_key.create" });
    expect((await call(audit.GET, "GET", { query: { limit: "0" } })).status).toBe(400);
  });

  it("audits profile changes (fields only, the user by pseudonym) and webhook changes (never the secret)", async () => {
    const userId = `audited-${Math.random().toString(36).slice(2, 8)}`;
    expect((await call(profile.PUT, "PUT", { params: { userId }, body: { email: "a@example.com", attributes: { tier: "gold" } } })).status).toBe(201);
    const profileAudit = await call(audit.GET, "GET", { query: { action: "profile.create" } });
    const entry = profileAudit.body.entries[0];
    expect(entry).toMatchObject({ actor: "admin-api-key", entityType: "user", after: { fields: ["attributes", "deviceTokens", "email", "phone", "timezone"] } });
    expect(JSON.stringify(entry)).not.toContain(userId);
    expect(JSON.stringify(entry)).not.toContain("a@example.com");

    const secret = "webhook-secret-for-audit-0123456789";
    const created = await call(webhooks.POST, "POST", { body: { url: "https://example.com/hook", secret } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call(webhook.PATCH, "PATCH", { params: { webhookId: id }, body: { description: "renamed" } })).status).toBe(200);
    expect((await call(webhook.DELETE, "DELETE", { params: { webhookId: id } })).status).toBe(204);
    const trail = await call(audit.GET, "GET", { query: { entityType: "webhook", entityId: id } });
    expect(trail.body.entries.map((e: { action: string }) => e.action)).toEqual(["webhook.delete", "webhook.update", "webhook.create"]);
    expect(trail.body.entries[1].after.description).toBe("renamed");
    expect(JSON.stringify(trail.body)).not.toContain(secret);
  });
});
