import { eq, getTableColumns, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { userProfiles } from "@/db/schema";
import type { Profile, ProfileStore } from "@/lib/ports/profiles";

const toProfile = (r: typeof userProfiles.$inferSelect): Profile => ({
  userId: r.userId,
  email: r.email,
  phone: r.phone,
  deviceTokens: (r.deviceTokens ?? []) as unknown[],
  timezone: r.timezone,
  attributes: (r.attributes ?? {}) as Record<string, unknown>,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export function createProfileStore(db: Database): ProfileStore {
  return {
    async get(userId) {
      const [row] = await db.select().from(userProfiles).where(eq(userProfiles.userId, userId));
      return row ? toProfile(row) : null;
    },
    async put(userId, input, now) {
      const [row] = await db
        .insert(userProfiles)
        .values({ userId, ...input, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: userProfiles.userId, set: { ...input, updatedAt: now } })
        .returning({ ...getTableColumns(userProfiles), created: sql<boolean>`(xmax = 0)` });
      const { created, ...stored } = row!;
      return { profile: toProfile(stored), created: Boolean(created) };
    },
    async erase(userId) {
      await db.delete(userProfiles).where(eq(userProfiles.userId, userId));
    },
  };
}
