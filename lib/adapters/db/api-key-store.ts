import { and, desc, eq, isNull } from "drizzle-orm";
import type { Database } from "@/db/client";
import { apiKeys } from "@/db/schema";
import { scopes, type ApiKeyStore, type ApiKeyView, type Scope } from "@/lib/ports/auth";

const isScope = (s: string): s is Scope => (scopes as readonly string[]).includes(s);

const view = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  createdBy: apiKeys.createdBy,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
};

const toView = (row: typeof apiKeys.$inferSelect | Omit<typeof apiKeys.$inferSelect, "keyHash">): ApiKeyView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: row.scopes.filter(isScope),
  createdBy: row.createdBy,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
  revokedAt: row.revokedAt,
});

/** `last_used_at` is kept to the minute: a key used on every request costs one UPDATE a minute, not one per request. */
const TOUCH_EVERY_MS = 60_000;

export function createApiKeyStore(db: Database): ApiKeyStore {
  const touched = new Map<string, number>();
  return {
    findActiveByHash: async (keyHash) => {
      const [row] = await db
        .select({ id: apiKeys.id, name: apiKeys.name, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
      return row ? { id: row.id, name: row.name, scopes: row.scopes.filter(isScope) } : null;
    },
    touch: async (id, at) => {
      const last = touched.get(id);
      if (last !== undefined && at.getTime() - last < TOUCH_EVERY_MS && at.getTime() >= last) return;
      if (touched.size > 10_000) touched.clear();
      touched.set(id, at.getTime());
      await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
    },
    list: async () => (await db.select(view).from(apiKeys).orderBy(desc(apiKeys.createdAt)).limit(1000)).map(toView),
    get: async (id) => {
      const [row] = await db.select(view).from(apiKeys).where(eq(apiKeys.id, id));
      return row ? toView(row) : null;
    },
    create: async (k) => {
      const [row] = await db
        .insert(apiKeys)
        .values({ name: k.name, keyHash: k.keyHash, prefix: k.prefix, scopes: k.scopes, createdBy: k.createdBy, createdAt: k.at })
        .returning(view);
      return toView(row!);
    },
    revoke: async (id, at) => {
      const rows = await db
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      return rows.length > 0;
    },
  };
}
