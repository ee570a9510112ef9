/**
 * The UI's session: a next-auth JWT in a cookie. Decoded here (not through next/headers) so the
 * REST wrapper, the WebSocket upgrade and server components share one reading of it. The role is
 * read from the account on every request, so a demotion or a disabled account applies at once.
 */
import { decode } from "next-auth/jwt";
import type { Role } from "@/lib/ports/auth";
import { activeAccount, type AccountDeps } from "@/lib/services/accounts";

export const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"] as const;

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  mustChangePassword: boolean;
}

/** The session token in a Cookie header (next-auth splits large tokens into .0, .1 … chunks). */
export function sessionTokenFromCookieHeader(header: string | null | undefined): string | null {
  if (!header) return null;
  const jar = new Map<string, string>();
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) jar.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
  }
  return sessionTokenFrom((name) => jar.get(name));
}

export function sessionTokenFrom(get: (name: string) => string | undefined): string | null {
  for (const name of SESSION_COOKIES) {
    const whole = get(name);
    if (whole) return whole;
    let chunks = "";
    for (let i = 0; ; i++) {
      const c = get(`${name}.${i}`);
      if (c === undefined) break;
      chunks += c;
    }
    if (chunks) return chunks;
  }
  return null;
}

/** The signed-in, still active account the token names, or null. */
export async function sessionUserFromToken(deps: AccountDeps, secret: string, token: string | null): Promise<SessionUser | null> {
  if (!token || !secret) return null;
  const payload = await decode({ token, secret }).catch(() => null);
  const id = typeof payload?.sub === "string" ? payload.sub : null;
  if (!id) return null;
  const account = await activeAccount(deps, id);
  return account
    ? { id: account.id, email: account.email, name: account.name, role: account.role, mustChangePassword: account.mustChangePassword }
    : null;
}
