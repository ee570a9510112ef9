import type { Role, Scope } from "@/lib/ports/auth";

/** What a signed-in person may do through the REST API and the UI. */
export const roleScopes: Record<Role, readonly Scope[]> = {
  viewer: ["read"],
  marketer: ["read", "write", "ingest"],
  admin: ["admin", "read", "write", "ingest"],
};

const rank: Record<Role, number> = { viewer: 0, marketer: 1, admin: 2 };

/** True when `role` is at least `min`. */
export const atLeast = (role: Role, min: Role) => rank[role] >= rank[min];

export type UiAction = "read" | "edit" | "administer";

/** viewer reads; marketer edits segments, campaigns and profiles; admin administers users, keys and audit. */
export function can(user: { role: Role } | null | undefined, action: UiAction): boolean {
  if (!user) return false;
  if (action === "read") return true;
  if (action === "edit") return atLeast(user.role, "marketer");
  return user.role === "admin";
}
