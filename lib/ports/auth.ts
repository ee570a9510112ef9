export const scopes = ["ingest", "read", "admin"] as const;
export type Scope = (typeof scopes)[number];

/** An authenticated caller. `id` is what audit rows record as the actor. */
export interface Actor {
  id: string;
  scopes: readonly Scope[];
}

export interface StoredApiKey {
  id: string;
  name: string;
  scopes: Scope[];
}

/** API keys, looked up by the SHA-256 of the presented key (keys are never stored). */
export interface ApiKeyStore {
  findActiveByHash(keyHash: string): Promise<StoredApiKey | null>;
  /** Records use; callers do not wait for it. */
  touch(id: string, at: Date): Promise<void>;
}
