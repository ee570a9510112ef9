/**
 * ProfileStore.getMany (a batch run reads a page of members' profiles in one statement), on
 * every engine: the profiles that exist, decrypted; none for unknown users; an Error for a
 * profile under a key the ring no longer has, without failing the others.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "@/db/client";
import { generateKeySpec, parseKeyring } from "@/lib/privacy/crypto";
import { engineCases } from "@/test/support/engines";
import { createProfileStore } from "./profile-store";

const old = generateKeySpec("old");
const current = generateKeySpec("cur");
const NOW = new Date("2026-11-24T12:00:00Z");
const profile = (name: string) => ({ email: `${name}@example.com`, phone: null, deviceTokens: [], timezone: "Europe/Berlin", attributes: { firstName: name } });

describe.each(engineCases)("profile store getMany on $name", (engine) => {
  let db: DatabaseHandle & { drop(): Promise<void> };

  beforeAll(async () => {
    db = await engine.openDb();
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it("reads the existing profiles at once; an unreadable one is its Error, the rest still come", async () => {
    const before = createProfileStore(db.db, parseKeyring(old));
    await before.put("gm-lost", profile("lost"), NOW); // under a key the ring will not have
    const store = createProfileStore(db.db, parseKeyring(current));
    for (const name of ["ada", "grace"]) await store.put(`gm-${name}`, profile(name), NOW);

    const got = await store.getMany(["gm-ada", "gm-grace", "gm-nobody", "gm-lost", "gm-ada"]);
    expect([...got.keys()].sort()).toEqual(["gm-ada", "gm-grace", "gm-lost"]);
    expect(got.get("gm-ada")).toMatchObject({ userId: "gm-ada", email: "ada@example.com", attributes: { firstName: "ada" } });
    expect(got.get("gm-grace")).toEqual(await store.get("gm-grace"));
    expect(got.get("gm-lost")).toBeInstanceOf(Error);
    await expect(store.get("gm-lost")).rejects.toThrow();
    expect(await store.getMany([])).toEqual(new Map());
  });
});
