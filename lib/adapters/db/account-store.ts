import { asc, count, eq } from "drizzle-orm";
import type { Database } from "@/db/client";
import { appUsers } from "@/db/schema";
import { roles, type Account, type AccountStore, type Role } from "@/lib/ports/auth";

const toRole = (r: string): Role => ((roles as readonly string[]).includes(r) ? (r as Role) : "viewer");

const toAccount = (row: typeof appUsers.$inferSelect): Account => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: toRole(row.role),
  mustChangePassword: row.mustChangePassword,
  createdBy: row.createdBy,
  createdAt: row.createdAt,
  lastSignInAt: row.lastSignInAt,
  disabledAt: row.disabledAt,
});

export function createAccountStore(db: Database): AccountStore {
  return {
    findByEmail: async (email) => {
      const [row] = await db.select().from(appUsers).where(eq(appUsers.email, email.toLowerCase()));
      return row ? { ...toAccount(row), passwordHash: row.passwordHash } : null;
    },
    get: async (id) => {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const [row] = await db.select().from(appUsers).where(eq(appUsers.id, id));
      return row ? toAccount(row) : null;
    },
    list: async () => (await db.select().from(appUsers).orderBy(asc(appUsers.email)).limit(1000)).map(toAccount),
    count: async () => (await db.select({ n: count() }).from(appUsers))[0]?.n ?? 0,
    create: async (a) => {
      const [row] = await db
        .insert(appUsers)
        .values({
          email: a.email.toLowerCase(),
          name: a.name,
          role: a.role,
          passwordHash: a.passwordHash,
          mustChangePassword: a.mustChangePassword,
          createdBy: a.createdBy,
          createdAt: a.at,
          updatedAt: a.at,
        })
        .returning();
      return toAccount(row!);
    },
    update: async (id, patch, at) => {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const [row] = await db
        .update(appUsers)
        .set({ ...patch, updatedAt: at })
        .where(eq(appUsers.id, id))
        .returning();
      return row ? toAccount(row) : null;
    },
    recordSignIn: async (id, at) => {
      await db.update(appUsers).set({ lastSignInAt: at }).where(eq(appUsers.id, id));
    },
  };
}
