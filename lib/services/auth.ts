import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "@/lib/errors";
import type { Actor, ApiKeyStore, Scope } from "@/lib/ports/auth";
import { looksLikeJwt, type JwtVerifier } from "@/lib/auth/jwt";

export interface AuthDeps {
  apiKeys: ApiKeyStore;
  /** ADMIN_API_KEY: accepted as an admin key when set. */
  adminApiKey?: string;
  /** Verifies JWT bearer tokens when JWT_PUBLIC_KEYS or JWT_JWKS_FILE is configured. */
  jwt?: JwtVerifier | null;
}

export const hashApiKey = (key: string) => createHash("sha256").update(key, "utf8").digest("hex");

const unauthorized = (reason: string) =>
  new AppError("UNAUTHORIZED", "Authentication required", { field: "Authorization", reason });

function sameSecret(a: string, b: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * Resolves `Authorization: Bearer <key or JWT>` to an actor, or throws 401. A JWT is told apart
 * by its shape (three base64url segments); API keys (`am_…`) never have it.
 */
export async function authenticate(deps: AuthDeps, authorization: string | null, now: Date): Promise<Actor> {
  if (!authorization) throw unauthorized("missing bearer token");
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthorized("expected 'Bearer <key>'");
  const key = match[1]!;
  if (deps.adminApiKey && sameSecret(key, deps.adminApiKey)) {
    return { id: "admin-api-key", scopes: ["admin", "read", "write", "ingest"] };
  }
  if (looksLikeJwt(key)) {
    if (!deps.jwt) throw unauthorized("JWT bearer tokens are not accepted here");
    return deps.jwt.verify(key, now);
  }
  if (key.length > 512) throw unauthorized("invalid or revoked key");
  const stored = await deps.apiKeys.findActiveByHash(hashApiKey(key));
  if (!stored) throw unauthorized("invalid or revoked key");
  deps.apiKeys.touch(stored.id, now).catch(() => {});
  const granted: Scope[] = stored.scopes.includes("admin") ? ["admin", "read", "write", "ingest"] : stored.scopes;
  return { id: `api-key:${stored.id}`, scopes: granted };
}

/** Throws 403 unless the actor holds `scope`. */
export function requireScope(actor: Actor, scope: Scope): void {
  if (!actor.scopes.includes(scope)) {
    throw new AppError("FORBIDDEN", `This caller lacks the '${scope}' permission`, {
      field: "Authorization",
      reason: `requires scope '${scope}'`,
    });
  }
}
