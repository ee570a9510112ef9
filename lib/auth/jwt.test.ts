import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWTPayload } from "jose";
import { AppError } from "@/lib/errors";
import { EnvError, parseEnv } from "@/lib/env";
import { createJwtVerifier, jwtConfigFromEnv, looksLikeJwt, scopesFromClaims, type JwtConfig } from "./jwt";

const ISSUER = "https://idp.example.test/";
const AUDIENCE = "audience-manager";
const NOW = new Date("2026-03-01T12:00:00Z");
const sec = (d: Date) => Math.floor(d.getTime() / 1000);

interface Pair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

async function sign(key: CryptoKey, claims: JWTPayload, header: { alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({ scope: "read", ...claims })
    .setProtectedHeader({ alg: header.alg ?? "RS256", ...(header.kid ? { kid: header.kid } : {}) })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject(claims.sub ?? "svc-1")
    .setIssuedAt(sec(NOW) - 60)
    .setExpirationTime(claims.exp ?? sec(NOW) + 300)
    .sign(key);
}

/** The 401 reason a verification fails with. */
async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(401);
    return String((error as AppError).details.reason);
  }
  throw new Error("expected the token to be refused");
}

describe("JWT bearer tokens", () => {
  let a: Pair;
  let b: Pair;
  let c: Pair;
  let dir: string;
  let config: JwtConfig;

  beforeAll(async () => {
    [a, b, c] = (await Promise.all([1, 2, 3].map(() => generateKeyPair("RS256", { extractable: true })))) as [Pair, Pair, Pair];
    dir = mkdtempSync(path.join(tmpdir(), "am-jwks-"));
    config = {
      publicKeys: `${await exportSPKI(a.publicKey)}\n${await exportSPKI(b.publicKey)}`,
      issuer: ISSUER,
      audience: [AUDIENCE, "other-audience"],
      clockToleranceSeconds: 30,
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("tells a JWT from an API key by its shape", async () => {
    expect(looksLikeJwt(await sign(a.privateKey, {}))).toBe(true);
    expect(looksLikeJwt("am_Qk9yZ2VzLWtleS1mb3ItdGVzdHM")).toBe(false);
    expect(looksLikeJwt("test-admin-key-0123456789abcdef")).toBe(false);
    expect(looksLikeJwt("a.b.c")).toBe(false); // segments that are no JSON header
  });

  it("maps scope claims to scopes: scope string, scp, scopes; admin implies all; unknown names ignored", () => {
    expect(scopesFromClaims({ scope: "read ingest openid" })).toEqual(["ingest", "read"]);
    expect(scopesFromClaims({ scp: ["write"] })).toEqual(["write"]);
    expect(scopesFromClaims({ scp: "read", scopes: ["ingest"] })).toEqual(["ingest", "read"]);
    expect(scopesFromClaims({ scopes: ["admin"] })).toEqual(["admin", "read", "write", "ingest"]);
    expect(scopesFromClaims({ scope: 42 as unknown as string })).toEqual([]);
    expect(scopesFromClaims({})).toEqual([]);
  });

  it("accepts a token signed by any configured PEM key, for any configured audience", async () => {
    const verifier = await createJwtVerifier(config);
    expect(await verifier.verify(await sign(a.privateKey, { scope: "read ingest", sub: "app-7" }), NOW)).toEqual({
      id: "jwt:app-7",
      scopes: ["ingest", "read"],
    });
    const second = await verifier.verify(await sign(b.privateKey, { aud: "other-audience", scope: "write" }), NOW);
    expect(second.scopes).toEqual(["write"]);
  });

  it("refuses expired, wrong-issuer, wrong-audience, foreign-key, non-RS256, unsigned and claim-less tokens", async () => {
    const verifier = await createJwtVerifier(config);
    expect(await reason(verifier.verify(await sign(a.privateKey, { exp: sec(NOW) - 31 }), NOW))).toBe("token expired");
    // Within the clock tolerance.
    await expect(verifier.verify(await sign(a.privateKey, { exp: sec(NOW) - 20 }), NOW)).resolves.toBeTruthy();
    expect(await reason(verifier.verify(await sign(a.privateKey, { iss: "https://evil.test/" }), NOW))).toBe("wrong issuer");
    expect(await reason(verifier.verify(await sign(a.privateKey, { aud: "someone-else" }), NOW))).toBe("wrong audience");
    expect(await reason(verifier.verify(await sign(c.privateKey, {}), NOW))).toBe("signature does not verify");
    const hs = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("x")
      .setExpirationTime(sec(NOW) + 60)
      .sign(new TextEncoder().encode("a-shared-secret-that-is-long-enough-0123"));
    expect(await reason(verifier.verify(hs, NOW))).toBe("algorithm must be RS256");
    const unsigned = new UnsecuredJWT({ scope: "admin" }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("x").setExpirationTime(sec(NOW) + 60).encode();
    expect(looksLikeJwt(unsigned)).toBe(true);
    expect(await reason(verifier.verify(unsigned, NOW))).toMatch(/.+/);
    const noExp = await new SignJWT({ scope: "read" })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("x")
      .sign(a.privateKey);
    expect(await reason(verifier.verify(noExp, NOW))).toBe("invalid 'exp' claim");
    const tampered = (await sign(a.privateKey, { scope: "read" })).split(".");
    tampered[1] = Buffer.from(JSON.stringify({ scope: "admin", iss: ISSUER, aud: AUDIENCE, sub: "x", exp: sec(NOW) + 60 })).toString("base64url");
    expect(await reason(verifier.verify(tampered.join("."), NOW))).toBe("signature does not verify");
  });

  it("verifies against a JWKS file by kid and picks up a rotated file", async () => {
    const file = path.join(dir, "jwks.json");
    const jwk = async (p: Pair, kid: string) => ({ ...(await exportJWK(p.publicKey)), kid, alg: "RS256", use: "sig" });
    writeFileSync(file, JSON.stringify({ keys: [await jwk(a, "k1")] }));
    const verifier = await createJwtVerifier({ ...config, publicKeys: undefined, jwksFile: file, jwksRecheckMs: 0 });
    expect((await verifier.verify(await sign(a.privateKey, { scope: "ingest" }, { kid: "k1" }), NOW)).scopes).toEqual(["ingest"]);
    const rotated = await sign(c.privateKey, {}, { kid: "k2" });
    expect(await reason(verifier.verify(rotated, NOW))).toBe("no configured key matches the token");

    writeFileSync(file, JSON.stringify({ keys: [await jwk(a, "k1"), await jwk(c, "k2")] }));
    utimesSync(file, new Date(), new Date(Date.now() + 5_000)); // a distinct mtime however fast the test runs
    expect((await verifier.verify(rotated, NOW)).id).toBe("jwt:svc-1");
    // A broken rewrite keeps the last good set.
    writeFileSync(file, "{ not json");
    utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    expect((await verifier.verify(rotated, NOW)).id).toBe("jwt:svc-1");
  });

  it("is configured from the environment; issuer and audience are then required", async () => {
    const pem = await exportSPKI(a.publicKey);
    expect(jwtConfigFromEnv(parseEnv({}))).toBeNull();
    expect(() => jwtConfigFromEnv(parseEnv({ JWT_PUBLIC_KEYS: pem }))).toThrow(EnvError);
    const missingIssuer = (() => {
      try {
        jwtConfigFromEnv(parseEnv({ JWT_PUBLIC_KEYS: pem, JWT_AUDIENCE: "x" }));
        return null;
      } catch (error) {
        return error as EnvError;
      }
    })();
    expect(missingIssuer?.issues.map((i) => i.variable)).toEqual(["JWT_ISSUER"]);
    // One line with \n escapes, as many process managers hold it.
    const env = parseEnv({ JWT_PUBLIC_KEYS: pem.replace(/\n/g, "\\n"), JWT_ISSUER: ISSUER, JWT_AUDIENCE: "a, b" });
    const cfg = jwtConfigFromEnv(env)!;
    expect(cfg.audience).toEqual(["a", "b"]);
    const verifier = await createJwtVerifier({ ...cfg, audience: [AUDIENCE] });
    expect((await verifier.verify(await sign(a.privateKey, {}), NOW)).scopes).toEqual(["read"]);
    expect(() => parseEnv({ JWT_PUBLIC_KEYS: "not a key" })).toThrow(/JWT_PUBLIC_KEYS/);
  });
});
