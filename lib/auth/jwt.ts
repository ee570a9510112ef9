import { readFileSync, statSync } from "node:fs";
import {
  createLocalJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { AppError } from "@/lib/errors";
import { EnvError, type Env } from "@/lib/env";
import { scopes as knownScopes, type Actor, type Scope } from "@/lib/ports/auth";

/**
 * JWT bearer tokens from an identity provider: RS256 only, verified against PEM public keys
 * (JWT_PUBLIC_KEYS) and/or a JWKS file (JWT_JWKS_FILE), with issuer, audience and expiry
 * checks. `exp` and `sub` are required; the actor is `jwt:<sub>`.
 *
 * Scopes come from the `scope` claim (space-separated, OAuth 2.0 style: "read ingest"), `scp`
 * (string or array) and `scopes` (array); unknown names are ignored and `admin` implies every
 * other scope, as for API keys. A token with no known scope authenticates but may do nothing
 * (403 on every route).
 */
export interface JwtConfig {
  /** PEM text holding one or more `-----BEGIN PUBLIC KEY-----` blocks. */
  publicKeys?: string;
  /** Path to a JWKS document ({"keys": [...]}); re-read when its modification time changes. */
  jwksFile?: string;
  issuer: string;
  audience: string[];
  clockToleranceSeconds: number;
  /** How often the JWKS file's modification time is looked at (default 10 s). */
  jwksRecheckMs?: number;
}

export interface JwtVerifier {
  /** Resolves a token to an actor, or throws UNAUTHORIZED (401) naming what is wrong. */
  verify(token: string, now: Date): Promise<Actor>;
}

/** Three base64url segments, the first a JSON header: what an API key never looks like. */
export function looksLikeJwt(token: string): boolean {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && "alg" in header;
  } catch {
    return false;
  }
}

/** The scopes a token's claims grant (see the module comment). */
export function scopesFromClaims(claims: JWTPayload): Scope[] {
  const names = new Set<string>();
  const add = (v: unknown) => {
    const list: unknown[] = typeof v === "string" ? v.split(/\s+/) : Array.isArray(v) ? v : [];
    for (const s of list) if (typeof s === "string" && s) names.add(s);
  };
  add(claims.scope);
  add(claims.scp);
  add(claims.scopes);
  if (names.has("admin")) return ["admin", "read", "write", "ingest"];
  return knownScopes.filter((s) => names.has(s));
}

const unauthorized = (reason: string) =>
  new AppError("UNAUTHORIZED", "Authentication required", { field: "Authorization", reason }, { "www-authenticate": 'Bearer error="invalid_token"' });

const MAX_TOKEN_LENGTH = 16_384;
const JWKS_RECHECK_MS = 10_000;

/** Splits PEM text into its public key blocks. */
function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
}

function readJwks(file: string): { getKey: JWTVerifyGetKey; mtimeMs: number } {
  const mtimeMs = statSync(file).mtimeMs;
  const doc = JSON.parse(readFileSync(file, "utf8")) as JSONWebKeySet;
  if (!doc || !Array.isArray(doc.keys)) throw new Error("not a JWKS document (no keys array)");
  return { getKey: createLocalJWKSet(doc), mtimeMs };
}

/** Builds the verifier; throws (at start-up) when a key or the JWKS file cannot be read. */
export async function createJwtVerifier(config: JwtConfig): Promise<JwtVerifier> {
  const pemKeys: CryptoKey[] = [];
  for (const block of pemBlocks(config.publicKeys ?? "")) pemKeys.push(await importSPKI(block, "RS256"));
  if (config.publicKeys && pemKeys.length === 0) throw new Error("JWT_PUBLIC_KEYS holds no PEM public key");

  let jwks = config.jwksFile ? readJwks(config.jwksFile) : null;
  let checkedAt = Date.now();
  /** Picks up a rotated JWKS file; a broken rewrite keeps the last good key set. */
  const currentJwks = () => {
    if (!config.jwksFile || Date.now() - checkedAt < (config.jwksRecheckMs ?? JWKS_RECHECK_MS)) return jwks;
    checkedAt = Date.now();
    try {
      if (statSync(config.jwksFile).mtimeMs !== jwks?.mtimeMs) jwks = readJwks(config.jwksFile);
    } catch {
      // keep the previous set
    }
    return jwks;
  };

  const options = (now: Date) => ({
    algorithms: ["RS256"],
    issuer: config.issuer,
    audience: config.audience,
    currentDate: now,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ["exp", "sub"],
  });

  return {
    async verify(token, now) {
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized("token too long");
      const candidates: (CryptoKey | JWTVerifyGetKey)[] = [];
      const set = currentJwks();
      if (set) candidates.push(set.getKey);
      candidates.push(...pemKeys);
      let payload: JWTPayload | null = null;
      let lastError: unknown = null;
      for (const key of candidates) {
        try {
          // Overloads differ for a key and a key getter; both are valid here.
          ({ payload } = await jwtVerify(token, key as CryptoKey, options(now)));
          break;
        } catch (error) {
          lastError = error;
          // Another key may have signed it; any other failure means the signature was fine.
          if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) continue;
          throw toUnauthorized(error);
        }
      }
      if (!payload) throw toUnauthorized(lastError);
      const sub = payload.sub!;
      if (sub.length > 200) throw unauthorized("sub claim too long");
      return { id: `jwt:${sub}`, scopes: scopesFromClaims(payload) };
    },
  };
}

function toUnauthorized(error: unknown): AppError {
  if (error instanceof errors.JWTExpired) return unauthorized("token expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return unauthorized("wrong issuer");
      case "aud":
        return unauthorized("wrong audience");
      case "nbf":
        return unauthorized("token not yet valid");
      default:
        return unauthorized(`invalid '${error.claim}' claim`);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthorized("algorithm must be RS256");
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthorized("signature does not verify");
  if (error instanceof errors.JWKSNoMatchingKey) return unauthorized("no configured key matches the token");
  return unauthorized("malformed token");
}

/** The JWT settings of the environment, or null when JWT auth is off. */
export function jwtConfigFromEnv(env: Env): JwtConfig | null {
  if (!env.JWT_PUBLIC_KEYS && !env.JWT_JWKS_FILE) return null;
  const missing = (["JWT_ISSUER", "JWT_AUDIENCE"] as const).filter((v) => !env[v]);
  if (missing.length > 0) {
    throw new EnvError(missing.map((variable) => ({ variable, reason: "required when JWT_PUBLIC_KEYS or JWT_JWKS_FILE is set" })));
  }
  return {
    publicKeys: env.JWT_PUBLIC_KEYS,
    jwksFile: env.JWT_JWKS_FILE,
    issuer: env.JWT_ISSUER!,
    audience: env.JWT_AUDIENCE!,
    clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
  };
}
