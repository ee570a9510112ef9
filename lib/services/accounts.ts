/**
 * People and keys: the UI's accounts (sign-in, invitations, roles) and the REST API keys, with an
 * audit row for every change and every sign-in attempt.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { AppError, notFound, sqlState } from "@/lib/errors";
import { generatePassword, hashPassword, verifyPassword } from "@/lib/auth/password";
import { hashApiKey } from "@/lib/services/auth";
import { apiKeyScopes, roles, type Account, type AccountStore, type ApiKeyStore, type ApiKeyView, type AuditLog, type Role } from "@/lib/ports/auth";
import type { RequestContext } from "@/lib/services/context";

export interface AccountDeps {
  accounts: AccountStore;
  apiKeys: ApiKeyStore;
  audit: AuditLog;
}

export const inviteUserSchema = z.object({
  email: z.email({ error: "must be an email address" }).max(320),
  name: z.string().trim().min(1, { error: "is required" }).max(200),
  role: z.enum(roles, { error: `must be one of ${roles.join(", ")}` }),
});
export const updateUserSchema = z
  .object({
    role: z.enum(roles, { error: `must be one of ${roles.join(", ")}` }).optional(),
    name: z.string().trim().min(1).max(200).optional(),
    disabled: z.boolean().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { error: "nothing to change" });
export const changePasswordSchema = z.object({
  currentPassword: z.string().min(1, { error: "is required" }).max(1000),
  newPassword: z.string().min(10, { error: "must be at least 10 characters" }).max(1000),
});
export const createApiKeySchema = z.object({
  name: z.string().trim().min(1, { error: "is required" }).max(200),
  scopes: z
    .array(z.enum(apiKeyScopes, { error: `must be one of ${apiKeyScopes.join(", ")}` }))
    .min(1, { error: "choose at least one scope" })
    .transform((s) => [...new Set(s)]),
});

const publicAccount = (a: Account) => ({
  id: a.id,
  email: a.email,
  name: a.name,
  role: a.role,
  mustChangePassword: a.mustChangePassword,
  createdBy: a.createdBy,
  createdAt: a.createdAt.toISOString(),
  lastSignInAt: a.lastSignInAt?.toISOString() ?? null,
  disabled: a.disabledAt !== null,
});
export type AccountView = ReturnType<typeof publicAccount>;

const publicKey = (k: ApiKeyView) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  createdBy: k.createdBy,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});
export type ApiKeyPublicView = ReturnType<typeof publicKey>;

const isUniqueViolation = (e: unknown) => sqlState(e) === "23505";

/** Creates the first admin from ADMIN_EMAIL / ADMIN_PASSWORD when no account has that email. */
export async function bootstrapAdmin(deps: AccountDeps, email: string, password: string, now: Date): Promise<boolean> {
  if (await deps.accounts.findByEmail(email)) return false;
  try {
    const account = await deps.accounts.create({
      email,
      name: "Administrator",
      role: "admin",
      passwordHash: await hashPassword(password),
      mustChangePassword: false,
      createdBy: "bootstrap",
      at: now,
    });
    await deps.audit.append({ actor: "bootstrap", action: "user.create", entityType: "user", entityId: account.id, after: publicAccount(account), at: now });
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false; // another process created it first
    throw e;
  }
}

export interface SignedIn {
  id: string;
  email: string;
  name: string;
  role: Role;
  mustChangePassword: boolean;
}

/** Checks credentials; every attempt is audited. Null for unknown, disabled or wrong. */
export async function signIn(deps: AccountDeps, email: string, password: string, now: Date, traceId?: string): Promise<SignedIn | null> {
  const normalized = email.trim().toLowerCase();
  const account = normalized.length <= 320 ? await deps.accounts.findByEmail(normalized) : null;
  // Hash even when the account is unknown, so timing does not tell which emails exist.
  const ok = account
    ? await verifyPassword(password, account.passwordHash)
    : (await verifyPassword(password, DUMMY_HASH), false);
  const success = ok && account !== null && account.disabledAt === null;
  await deps.audit.append({
    actor: success ? `user:${account!.id}` : `anonymous`,
    action: success ? "auth.sign_in" : "auth.sign_in_failed",
    entityType: "user",
    entityId: account?.id ?? normalized.slice(0, 320),
    after: { email: normalized.slice(0, 320), reason: success ? undefined : account ? (account.disabledAt ? "disabled" : "wrong password") : "unknown email" },
    traceId,
    at: now,
  });
  if (!success) return null;
  await deps.accounts.recordSignIn(account.id, now);
  return { id: account.id, email: account.email, name: account.name, role: account.role, mustChangePassword: account.mustChangePassword };
}
const DUMMY_HASH = "scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA$pMxWuXWH1WF1sHXT9NuWZqXdnHBvCA6M2i9DKW9eKXw";

/** The current account, or null when it was disabled or removed since the session began. */
export async function activeAccount(deps: AccountDeps, id: string): Promise<Account | null> {
  const a = await deps.accounts.get(id);
  return a && a.disabledAt === null ? a : null;
}

export async function listAccounts(deps: AccountDeps) {
  return (await deps.accounts.list()).map(publicAccount);
}

/** Invites a person: the account gets a one-time password, returned once, to hand over. */
export async function inviteAccount(deps: AccountDeps, input: z.output<typeof inviteUserSchema>, ctx: RequestContext) {
  const password = generatePassword();
  let account: Account;
  try {
    account = await deps.accounts.create({
      email: input.email,
      name: input.name,
      role: input.role,
      passwordHash: await hashPassword(password),
      mustChangePassword: true,
      createdBy: ctx.actor,
      at: ctx.now,
    });
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new AppError("CONFLICT", `A user with email ${input.email.toLowerCase()} already exists`, { field: "email", reason: "already exists" });
    }
    throw e;
  }
  const view = publicAccount(account);
  await deps.audit.append({ actor: ctx.actor, action: "user.invite", entityType: "user", entityId: account.id, after: view, traceId: ctx.traceId, at: ctx.now });
  return { user: view, temporaryPassword: password };
}

export async function updateAccount(deps: AccountDeps, id: string, patch: z.output<typeof updateUserSchema>, ctx: RequestContext) {
  const before = await deps.accounts.get(id);
  if (!before) throw notFound("User", id);
  if (ctx.actor === `user:${id}` && (patch.disabled || (patch.role && patch.role !== "admin"))) {
    throw new AppError("CONFLICT", "You cannot demote or disable yourself", { field: patch.disabled ? "disabled" : "role", reason: "ask another admin" });
  }
  const after = await deps.accounts.update(
    id,
    {
      role: patch.role,
      name: patch.name,
      disabledAt: patch.disabled === undefined ? undefined : patch.disabled ? ctx.now : null,
    },
    ctx.now,
  );
  if (!after) throw notFound("User", id);
  await deps.audit.append({
    actor: ctx.actor,
    action: "user.update",
    entityType: "user",
    entityId: id,
    before: publicAccount(before),
    after: publicAccount(after),
    traceId: ctx.traceId,
    at: ctx.now,
  });
  return publicAccount(after);
}

export async function changePassword(deps: AccountDeps, id: string, input: z.output<typeof changePasswordSchema>, ctx: RequestContext) {
  const account = await deps.accounts.get(id);
  const withHash = account ? await deps.accounts.findByEmail(account.email) : null;
  if (!withHash || !(await verifyPassword(input.currentPassword, withHash.passwordHash))) {
    throw new AppError("VALIDATION_ERROR", "The current password is not correct", { field: "currentPassword", reason: "does not match" });
  }
  await deps.accounts.update(id, { passwordHash: await hashPassword(input.newPassword), mustChangePassword: false }, ctx.now);
  await deps.audit.append({ actor: ctx.actor, action: "user.change_password", entityType: "user", entityId: id, traceId: ctx.traceId, at: ctx.now });
}

export async function listApiKeys(deps: AccountDeps) {
  return (await deps.apiKeys.list()).map(publicKey);
}

/** Creates a key; the key itself is in this answer only (the store keeps its SHA-256). */
export async function createApiKey(deps: AccountDeps, input: z.output<typeof createApiKeySchema>, ctx: RequestContext) {
  const key = `am_${randomBytes(24).toString("base64url")}`;
  const created = await deps.apiKeys.create({
    name: input.name,
    keyHash: hashApiKey(key),
    prefix: key.slice(0, 10),
    scopes: input.scopes,
    createdBy: ctx.actor,
    at: ctx.now,
  });
  const view = publicKey(created);
  await deps.audit.append({ actor: ctx.actor, action: "api_key.create", entityType: "api_key", entityId: created.id, after: view, traceId: ctx.traceId, at: ctx.now });
  return { apiKey: view, key };
}

export async function revokeApiKey(deps: AccountDeps, id: string, ctx: RequestContext) {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound("API key", id);
  const before = await deps.apiKeys.get(id);
  if (!before) throw notFound("API key", id);
  if (!(await deps.apiKeys.revoke(id, ctx.now))) {
    throw new AppError("CONFLICT", `API key ${id} is already revoked`, { field: "id", reason: "already revoked" });
  }
  const after = await deps.apiKeys.get(id);
  await deps.audit.append({
    actor: ctx.actor,
    action: "api_key.revoke",
    entityType: "api_key",
    entityId: id,
    before: publicKey(before),
    after: after ? publicKey(after) : null,
    traceId: ctx.traceId,
    at: ctx.now,
  });
  return after ? publicKey(after) : null;
}
