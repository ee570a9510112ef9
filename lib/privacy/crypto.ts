/**
 * Field encryption for personal data at rest (NFR20): AES-256-GCM with a random 96-bit IV per
 * value, the key id carried in every ciphertext, and additional authenticated data naming the
 * row and field (a ciphertext copied into another user's row does not decrypt). No I/O: the
 * keys come from the caller (PII_KEYS, or a key file the runtime keeps in DATA_DIR).
 *
 * Ciphertext text form: `pii1:<keyId>:<base64url(iv ‖ tag ‖ ciphertext)>`.
 *
 * Rotation: a keyring holds every key that may still be in use; the first is current and
 * encrypts every write, the others only decrypt. Rewrapping re-encrypts old values under the
 * current key, after which a retired key can be removed from the ring.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

export const CIPHERTEXT_PREFIX = "pii1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface Keyring {
  /** Encrypts every new value. */
  currentId: string;
  /** Every key that may still decrypt stored values, by id (the current one included). */
  keys: ReadonlyMap<string, Buffer>;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

/** A stored value that cannot be decrypted: unknown key id, tampered, or moved to another row. */
export class DecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptError";
  }
}

/**
 * Parses `keyId:base64key,…` (the first is current). Each key must be 32 bytes, in standard or
 * URL-safe base64; ids are 1–32 of A-Z a-z 0-9 _ - and unique.
 */
export function parseKeyring(spec: string): Keyring {
  const entries = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new KeyringError("expected keyId:base64key[,keyId:base64key…]");
  const keys = new Map<string, Buffer>();
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(":");
    // Never echo key material in the message: it ends up in logs.
    if (colon < 0) throw new KeyringError(`entry ${i + 1}: expected keyId:base64key`);
    const id = entry.slice(0, colon);
    const material = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) throw new KeyringError(`key id "${id}": 1 to 32 of A-Z a-z 0-9 _ -`);
    if (keys.has(id)) throw new KeyringError(`key id "${id}" appears twice`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) throw new KeyringError(`key "${id}": not base64`);
    const key = Buffer.from(material.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.length !== KEY_BYTES) throw new KeyringError(`key "${id}": must be ${KEY_BYTES} bytes (got ${key.length})`);
    keys.set(id, key);
  }
  return { currentId: entries[0]!.slice(0, entries[0]!.indexOf(":")), keys };
}

/** A new random key in the PII_KEYS form: `id:base64key`. */
export function generateKeySpec(id: string): string {
  if (!KEY_ID.test(id)) throw new KeyringError(`key id "${id}": 1 to 32 of A-Z a-z 0-9 _ -`);
  return `${id}:${randomBytes(KEY_BYTES).toString("base64")}`;
}

export function isCiphertext(value: string): boolean {
  return value.startsWith(`${CIPHERTEXT_PREFIX}:`);
}

/** The id of the key a ciphertext was made with, or null for anything else (e.g. legacy plaintext). */
export function keyIdOf(value: string): string | null {
  if (!isCiphertext(value)) return null;
  const end = value.indexOf(":", CIPHERTEXT_PREFIX.length + 1);
  return end < 0 ? null : value.slice(CIPHERTEXT_PREFIX.length + 1, end);
}

/** Encrypts under the current key; `context` (row and field) is authenticated, not stored. */
export function encrypt(ring: Keyring, plaintext: string, context: string): string {
  const key = ring.keys.get(ring.currentId)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const blob = Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  return `${CIPHERTEXT_PREFIX}:${ring.currentId}:${blob}`;
}

/** Decrypts a value made by {@link encrypt} with any key of the ring and the same `context`. */
export function decrypt(ring: Keyring, value: string, context: string): string {
  const keyId = keyIdOf(value);
  if (keyId === null) throw new DecryptError("not a ciphertext");
  const key = ring.keys.get(keyId);
  if (!key) throw new DecryptError(`unknown key id "${keyId}" (add it to PII_KEYS to read this value)`);
  const blob = Buffer.from(value.slice(CIPHERTEXT_PREFIX.length + keyId.length + 2), "base64url");
  if (blob.length < IV_BYTES + TAG_BYTES) throw new DecryptError("truncated ciphertext");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new DecryptError(`ciphertext does not authenticate under key "${keyId}" for this field`);
  }
}

/** Whether a stored value should be re-encrypted: plaintext, or made with a key other than the current one. */
export function needsRewrap(ring: Keyring, value: string): boolean {
  return keyIdOf(value) !== ring.currentId;
}

/**
 * A keyed pseudonym of a user id (HMAC-SHA256 under a key derived from the current PII key),
 * `<keyId>.<32 hex>`: the audit log names erased users by it, so it proves what happened without
 * holding the id; whoever holds key `keyId` can check whether a given id is the one named.
 */
export function userRef(ring: Keyring, userId: string, keyId: string = ring.currentId): string {
  const key = ring.keys.get(keyId);
  if (!key) throw new DecryptError(`unknown key id "${keyId}"`);
  const macKey = Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "audience-manager/user-ref", KEY_BYTES));
  return `${keyId}.${createHmac("sha256", macKey).update(userId, "utf8").digest("hex").slice(0, 32)}`;
}
