import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Webhook signing secrets at rest. HMAC signing needs the secret itself, so it cannot be hashed
 * like an API key: with WEBHOOK_SECRET_KEY set it is encrypted (AES-256-GCM, key = SHA-256 of the
 * variable) as `enc:v1:<iv>:<tag>:<ciphertext>` (base64url); without it, it is stored as
 * `plain:<secret>` (the API still never returns it after creation). Setting the key later keeps
 * old `plain:` secrets readable; new and rotated ones are encrypted.
 */
export class SecretUnavailableError extends Error {
  constructor(reason: string) {
    super(`the webhook secret cannot be read: ${reason}`);
    this.name = "SecretUnavailableError";
  }
}

const keyOf = (material: string) => createHash("sha256").update(material, "utf8").digest();

/** A new secret: `whsec_` and 32 random bytes, base64url. */
export const generateSecret = () => `whsec_${randomBytes(32).toString("base64url")}`;

export function sealSecret(secret: string, keyMaterial: string | undefined): string {
  if (!keyMaterial) return `plain:${secret}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(keyMaterial), iv);
  const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return `enc:v1:${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${ct.toString("base64url")}`;
}

export function openSecret(stored: string, keyMaterial: string | undefined): string {
  if (stored.startsWith("plain:")) return stored.slice("plain:".length);
  const m = /^enc:v1:([\w-]+):([\w-]+):([\w-]*)$/.exec(stored);
  if (!m) throw new SecretUnavailableError("unknown format");
  if (!keyMaterial) throw new SecretUnavailableError("it is encrypted and WEBHOOK_SECRET_KEY is not set");
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyOf(keyMaterial), Buffer.from(m[1]!, "base64url"));
    decipher.setAuthTag(Buffer.from(m[2]!, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(m[3]!, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretUnavailableError("WEBHOOK_SECRET_KEY does not decrypt it (was the key changed?)");
  }
}

/** The last 4 characters, to recognise a secret in lists. */
export const secretHint = (secret: string) => `…${secret.slice(-4)}`;
