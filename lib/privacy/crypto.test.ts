import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DecryptError,
  KeyringError,
  decrypt,
  encrypt,
  generateKeySpec,
  isCiphertext,
  keyIdOf,
  needsRewrap,
  parseKeyring,
  userRef,
} from "./crypto";

const k1 = generateKeySpec("k1");
const k2 = generateKeySpec("k2");

describe("parseKeyring", () => {
  it("takes the first key as current and keeps the others for decryption", () => {
    const ring = parseKeyring(`${k2}, ${k1}`);
    expect(ring.currentId).toBe("k2");
    expect([...ring.keys.keys()]).toEqual(["k2", "k1"]);
  });

  it("accepts URL-safe base64", () => {
    const raw = randomBytes(32);
    const ring = parseKeyring(`u:${raw.toString("base64url")}`);
    expect(ring.keys.get("u")!.equals(raw)).toBe(true);
  });

  it.each([
    ["", /expected keyId/],
    ["nokey", /expected keyId:base64key/],
    [`bad id:${randomBytes(32).toString("base64")}`, /key id "bad id"/],
    [`short:${randomBytes(16).toString("base64")}`, /must be 32 bytes \(got 16\)/],
    [`a:${randomBytes(32).toString("base64")},a:${randomBytes(32).toString("base64")}`, /appears twice/],
    ["a:not*base64", /not base64/],
  ])("refuses %j", (spec, message) => {
    expect(() => parseKeyring(spec)).toThrow(KeyringError);
    expect(() => parseKeyring(spec)).toThrow(message);
  });
});

describe("encrypt / decrypt", () => {
  const ring = parseKeyring(k1);

  it("round-trips, with the key id in the ciphertext and a fresh IV each time", () => {
    const a = encrypt(ring, "ada@example.com", "user_profiles.email:u1");
    const b = encrypt(ring, "ada@example.com", "user_profiles.email:u1");
    expect(a).not.toBe(b);
    expect(a).not.toContain("ada");
    expect(isCiphertext(a)).toBe(true);
    expect(keyIdOf(a)).toBe("k1");
    expect(decrypt(ring, a, "user_profiles.email:u1")).toBe("ada@example.com");
    expect(decrypt(ring, encrypt(ring, "", "c"), "c")).toBe("");
    expect(decrypt(ring, encrypt(ring, "ünï☃", "c"), "c")).toBe("ünï☃");
  });

  it("refuses a value moved to another row or field (authenticated context)", () => {
    const a = encrypt(ring, "ada@example.com", "user_profiles.email:u1");
    expect(() => decrypt(ring, a, "user_profiles.email:u2")).toThrow(DecryptError);
    expect(() => decrypt(ring, a, "user_profiles.phone:u1")).toThrow(DecryptError);
  });

  it("refuses a tampered ciphertext", () => {
    const a = encrypt(ring, "ada@example.com", "c");
    const blob = Buffer.from(a.split(":")[2]!, "base64url");
    blob[blob.length - 1]! ^= 1;
    expect(() => decrypt(ring, `pii1:k1:${blob.toString("base64url")}`, "c")).toThrow(/does not authenticate/);
    expect(() => decrypt(ring, "pii1:k1:AAAA", "c")).toThrow(/truncated/);
    expect(() => decrypt(ring, "plain text", "c")).toThrow(/not a ciphertext/);
  });

  it("rotation: the old key still decrypts, new values use the new key, a dropped key fails loudly", () => {
    const old = encrypt(ring, "+4915112345678", "c");
    const rotated = parseKeyring(`${k2},${k1}`);
    expect(decrypt(rotated, old, "c")).toBe("+4915112345678");
    expect(needsRewrap(rotated, old)).toBe(true);
    const fresh = encrypt(rotated, "+4915112345678", "c");
    expect(keyIdOf(fresh)).toBe("k2");
    expect(needsRewrap(rotated, fresh)).toBe(false);
    expect(needsRewrap(rotated, "legacy plaintext")).toBe(true);
    const retired = parseKeyring(k2);
    expect(() => decrypt(retired, old, "c")).toThrow(/unknown key id "k1"/);
    expect(decrypt(retired, fresh, "c")).toBe("+4915112345678");
  });
});

describe("userRef", () => {
  it("is stable per key, differs between users and keys, and does not contain the id", () => {
    const ring = parseKeyring(`${k1},${k2}`);
    const a = userRef(ring, "user-42");
    expect(a).toMatch(/^k1\.[0-9a-f]{32}$/);
    expect(userRef(ring, "user-42")).toBe(a);
    expect(userRef(ring, "user-43")).not.toBe(a);
    expect(userRef(ring, "user-42", "k2")).not.toBe(a);
    expect(a).not.toContain("user-42");
    expect(() => userRef(ring, "user-42", "k9")).toThrow(DecryptError);
  });
});
