import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "@/db/client";
import { apiKeys } from "@/db/schema";
import { scopes, type ApiKeyStore, type Scope } from "@/lib/ports/auth";

const isScope = (s: string): s is Scope => (scopes as readonly string[]).includes(s);

export function createApiKeyStore(db: Database): ApiKeyStore {
  return {
    findActiveByHash: async (keyHash) => {
      const [row] = await db
        .select({ id: apiKeys.id, name: apiKeys.name, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
      return row ? { id: row.id, name: row.name, scopes: row.scopes.filter(isScope) } : null;
    },
    touch: async (id, at) => {
      await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
    },
  };
}
