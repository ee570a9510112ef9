import { and, asc, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { userProfiles } from "@/db/schema";
import type { Profile, ProfileInput, ProfileStore } from "@/lib/ports/profiles";
import { CIPHERTEXT_PREFIX, DecryptError, decrypt, encrypt, isCiphertext, type Keyring } from "@/lib/privacy/crypto";

/**
 * Profiles with their personal data encrypted at rest (docs/privacy.md): email, phone, device
 * tokens and attributes are AES-256-GCM ciphertexts under the keyring's current key, each bound
 * to its row and field. Email and phone stay text columns; device tokens and attributes are
 * stored as a JSON string holding the ciphertext (a JSON array / object there is a row written
 * before encryption, read as it is and encrypted by the next write or `rewrap`). Nothing queries
 * these fields, so no blind index is needed. The time zone stays readable (quiet hours).
 */
type Row = typeof userProfiles.$inferSelect;
type Sealed = Pick<typeof userProfiles.$inferInsert, "email" | "phone" | "deviceTokens" | "attributes" | "timezone">;

const context = (userId: string, field: string) => `user_profiles.${field}:${userId}`;

function openText(ring: Keyring, userId: string, field: string, value: string | null): string | null {
  if (value === null) return null;
  return isCiphertext(value) ? decrypt(ring, value, context(userId, field)) : value;
}

function openJson<T>(ring: Keyring, userId: string, field: string, value: unknown, fallback: T): T {
  if (typeof value === "string" && isCiphertext(value)) return JSON.parse(decrypt(ring, value, context(userId, field))) as T;
  return (value ?? fallback) as T;
}

function open(ring: Keyring, r: Row): Profile {
  return {
    userId: r.userId,
    email: openText(ring, r.userId, "email", r.email),
    phone: openText(ring, r.userId, "phone", r.phone),
    deviceTokens: openJson<unknown[]>(ring, r.userId, "device_tokens", r.deviceTokens, []),
    timezone: r.timezone,
    attributes: openJson<Record<string, unknown>>(ring, r.userId, "attributes", r.attributes, {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function seal(ring: Keyring, userId: string, input: ProfileInput): Sealed {
  return {
    email: input.email === null ? null : encrypt(ring, input.email, context(userId, "email")),
    phone: input.phone === null ? null : encrypt(ring, input.phone, context(userId, "phone")),
    deviceTokens: encrypt(ring, JSON.stringify(input.deviceTokens), context(userId, "device_tokens")),
    attributes: encrypt(ring, JSON.stringify(input.attributes), context(userId, "attributes")),
    timezone: input.timezone,
  };
}

export function createProfileStore(db: Database, ring: Keyring): ProfileStore {
  return {
    async get(userId) {
      const [row] = await db.select().from(userProfiles).where(eq(userProfiles.userId, userId));
      return row ? open(ring, row) : null;
    },
    async getMany(userIds) {
      const out = new Map<string, Profile | Error>();
      if (userIds.length === 0) return out;
      const rows = await db.select().from(userProfiles).where(inArray(userProfiles.userId, [...new Set(userIds)]));
      for (const row of rows) {
        try {
          out.set(row.userId, open(ring, row));
        } catch (error) {
          out.set(row.userId, error instanceof Error ? error : new Error(String(error)));
        }
      }
      return out;
    },
    async put(userId, input, now) {
      const sealed = seal(ring, userId, input);
      const [row] = await db
        .insert(userProfiles)
        .values({ userId, ...sealed, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: userProfiles.userId, set: { ...sealed, updatedAt: now } })
        .returning({ ...getTableColumns(userProfiles), created: sql<boolean>`(xmax = 0)` });
      const { created, ...stored } = row!;
      return { profile: open(ring, stored), created: Boolean(created) };
    },
    async erase(userId) {
      await db.delete(userProfiles).where(eq(userProfiles.userId, userId));
    },
    async rewrap(batch = 500) {
      const current = `${CIPHERTEXT_PREFIX}:${ring.currentId}:`;
      const t = userProfiles;
      const stale = sql`(
        (${t.email} is not null and not starts_with(${t.email}, ${current}))
        or (${t.phone} is not null and not starts_with(${t.phone}, ${current}))
        or jsonb_typeof(${t.deviceTokens}) <> 'string' or not starts_with(${t.deviceTokens} #>> '{}', ${current})
        or jsonb_typeof(${t.attributes}) <> 'string' or not starts_with(${t.attributes} #>> '{}', ${current})
      )`;
      const result = { scanned: 0, rewrapped: 0, unreadable: 0 };
      // Keyset over user ids: unreadable rows stay stale and must not be looked at again.
      let after = "";
      for (;;) {
        const rows = await db.select().from(t).where(and(gt(t.userId, after), stale)).orderBy(asc(t.userId)).limit(batch);
        if (rows.length === 0) return result;
        for (const row of rows) {
          result.scanned++;
          let profile: Profile;
          try {
            profile = open(ring, row);
          } catch (error) {
            if (!(error instanceof DecryptError)) throw error;
            result.unreadable++;
            continue;
          }
          // Only if unchanged since read: a concurrent write has encrypted under the current key already.
          const updated = await db
            .update(t)
            .set(seal(ring, row.userId, profile))
            .where(
              and(
                eq(t.userId, row.userId),
                sql`${t.email} is not distinct from ${row.email}`,
                sql`${t.phone} is not distinct from ${row.phone}`,
                sql`${t.deviceTokens} = ${JSON.stringify(row.deviceTokens)}::jsonb`,
                sql`${t.attributes} = ${JSON.stringify(row.attributes)}::jsonb`,
              ),
            )
            .returning({ userId: t.userId });
          if (updated.length === 1) result.rewrapped++;
        }
        after = rows[rows.length - 1]!.userId;
      }
    },
  };
}
