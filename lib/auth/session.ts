/** Server components and server actions: who is signed in, and what they may do. */
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { runtime } from "@/lib/runtime";
import type { Role } from "@/lib/ports/auth";
import { atLeast } from "@/lib/auth/roles";
import { sessionTokenFrom, sessionUserFromToken, type SessionUser } from "@/lib/auth/token";

export type { SessionUser } from "@/lib/auth/token";

export async function getSessionUser(): Promise<SessionUser | null> {
  const rt = await runtime();
  const jar = await cookies();
  return sessionUserFromToken(rt.accountDeps, rt.authSecret, sessionTokenFrom((n) => jar.get(n)?.value));
}

/** Redirects to /login when signed out and to /forbidden when the role is below `min`. */
export async function requireRole(min: Role): Promise<SessionUser> {
  const user = await getSessionUser();
  if (!user) redirect("/login");
  if (!atLeast(user.role, min)) redirect("/forbidden");
  return user;
}
