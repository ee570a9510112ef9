/**
 * Personal data at rest (docs/privacy.md): profiles are stored encrypted under the current key,
 * read back with any key of the ring, and rewrapped after a rotation. On every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { userProfiles } from "@/db/schema";
import type { DatabaseHandle } from "@/db/client";
import { generateKeySpec, parseKeyring } from "@/lib/privacy/crypto";
import { engineCases } from "@/test/support/engines";
import { createProfileStore } from "./profile-store";

const k1 = generateKeySpec("k1");
const k2 = generateKeySpec("k2");
const k0 = generateKeySpec("k0");
const NOW = new Date("2026-11-24T12:00:00Z");
const ada = {
  email: "ada@example.com",
  phone: "+4915112345678",
  deviceTokens: ["fcm-token-ada", { endpoint: "https://push.example/ada", keys: { p256dh: "p", auth: "a" } }],
  timezone: "Europe/Berlin",
  attributes: { firstName: "Ada", plan: "pro" },
};

describe.each(engineCases)("encrypted profile store on $name", (engine) => {
  let db: DatabaseHandle & { drop(): Promise<void> };
  const raw = async (userId: string) => (await db.db.select().from(userProfiles).where(eq(userProfiles.userId, userId)))[0]!;

  beforeAll(async () => {
    db = await engine.openDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("stores email, phone, device tokens and attributes as ciphertexts under the current key", async () => {
    const store = createProfileStore(db.db, parseKeyring(k1));
    const { profile, created } = await store.put("u-ada", ada, NOW);
    expect(created).toBe(true);
    expect(profile).toMatchObject({ userId: "u-ada", ...ada });
    const row = await raw("u-ada");
    const stored = JSON.stringify(row);
    for (const secret of ["ada@example.com", "4915112345678", "fcm-token-ada", "push.example", "Ada"]) expect(stored).not.toContain(secret);
    expect(row.email).toMatch(/^pii1:k1:/);
    expect(row.phone).toMatch(/^pii1:k1:/);
    expect(row.deviceTokens).toMatch(/^pii1:k1:/);
    expect(row.attributes).toMatch(/^pii1:k1:/);
    expect(row.timezone).toBe("Europe/Berlin");
    expect(await store.get("u-ada")).toMatchObject(ada);
    // A replacement is encrypted too, and nulls stay nulls.
    const replaced = await store.put("u-ada", { ...ada, phone: null, deviceTokens: [], attributes: {} }, NOW);
    expect(replaced.created).toBe(false);
    expect((await raw("u-ada")).phone).toBeNull();
    expect(await store.get("u-ada")).toMatchObject({ email: ada.email, phone: null, deviceTokens: [], attributes: {} });
  });

  it("a ciphertext copied into another user's row does not decrypt", async () => {
    const store = createProfileStore(db.db, parseKeyring(k1));
    await store.put("u-a", { ...ada, email: "a@example.com" }, NOW);
    await store.put("u-b", { ...ada, email: "b@example.com" }, NOW);
    const a = await raw("u-a");
    await db.db.update(userProfiles).set({ email: a.email }).where(eq(userProfiles.userId, "u-b"));
    await expect(store.get("u-b")).rejects.toThrow(/does not authenticate/);
    await store.erase("u-b");
    expect(await store.get("u-b")).toBeNull();
  });

  it("rotation: the new key encrypts, rewrap moves every row (plaintext ones included) to it, a retired key is no longer needed", async () => {
    const before = createProfileStore(db.db, parseKeyring(k1));
    for (let i = 0; i < 7; i++) await before.put(`rot-${i}`, { ...ada, email: `r${i}@example.com` }, NOW);
    // A row written before encryption existed (plaintext columns).
    await db.db.insert(userProfiles).values({ userId: "rot-legacy", email: "legacy@example.com", phone: "+4915100000000", deviceTokens: ["t"], attributes: { x: 1 } });
    // A row under a key nobody has any more.
    await createProfileStore(db.db, parseKeyring(k0)).put("rot-lost", ada, NOW);

    const rotated = createProfileStore(db.db, parseKeyring(`${k2},${k1}`));
    expect(await rotated.get("rot-3")).toMatchObject({ email: "r3@example.com" });
    expect(await rotated.get("rot-legacy")).toMatchObject({ email: "legacy@example.com", deviceTokens: ["t"], attributes: { x: 1 } });
    await rotated.put("rot-0", { ...ada, email: "r0-new@example.com" }, NOW); // lazy: a write uses the new key
    expect((await raw("rot-0")).email).toMatch(/^pii1:k2:/);

    const result = await rotated.rewrap(3); // small batches: the keyset walk must cover every row
    // Every earlier row not under k2: u-ada, u-a, rot-1..6, rot-legacy, rot-lost (rot-0 already was).
    expect(result).toEqual({ scanned: 10, rewrapped: 9, unreadable: 1 });
    const [row] = ((await db.db.execute(
      sql`select count(*)::int as n from user_profiles where email like 'pii1:k1:%' or phone like 'pii1:k1:%' or device_tokens #>> '{}' like 'pii1:k1:%' or attributes #>> '{}' like 'pii1:k1:%' or email not like 'pii1:%'`,
    )) as unknown as { rows: { n: number }[] }).rows;
    expect(row?.n).toBe(0);
    expect((await raw("rot-legacy")).deviceTokens).toMatch(/^pii1:k2:/);
    expect(await rotated.rewrap()).toEqual({ scanned: 1, rewrapped: 0, unreadable: 1 }); // only the lost one remains

    // k1 retired: everything but the lost row still reads.
    const retired = createProfileStore(db.db, parseKeyring(k2));
    expect(await retired.get("rot-5")).toMatchObject({ email: "r5@example.com", attributes: ada.attributes });
    expect(await retired.get("rot-legacy")).toMatchObject({ email: "legacy@example.com", phone: "+4915100000000" });
    expect(await retired.get("u-ada")).toMatchObject({ email: ada.email });
    await expect(retired.get("rot-lost")).rejects.toThrow(/unknown key id "k0"/);
  });
});
