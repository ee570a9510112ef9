/**
 * Permissions. API keys are issued with ingest, read or admin; `write` (edit segments, campaigns
 * and profiles) is what marketers hold in the UI, and an admin key implies it.
 */
export const scopes = ["ingest", "read", "write", "admin"] as const;
export type Scope = (typeof scopes)[number];
export const apiKeyScopes = ["ingest", "read", "admin"] as const satisfies readonly Scope[];
export type ApiKeyScope = (typeof apiKeyScopes)[number];

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

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** API keys, looked up by the SHA-256 of the presented key (keys are never stored). */
export interface ApiKeyStore {
  findActiveByHash(keyHash: string): Promise<StoredApiKey | null>;
  /** Records use; callers do not wait for it. */
  touch(id: string, at: Date): Promise<void>;
  list(): Promise<ApiKeyView[]>;
  get(id: string): Promise<ApiKeyView | null>;
  create(key: { name: string; keyHash: string; prefix: string; scopes: Scope[]; createdBy: string; at: Date }): Promise<ApiKeyView>;
  /** Returns false when the key does not exist or was already revoked. */
  revoke(id: string, at: Date): Promise<boolean>;
}

export const roles = ["viewer", "marketer", "admin"] as const;
export type Role = (typeof roles)[number];

export interface Account {
  id: string;
  email: string;
  name: string;
  role: Role;
  mustChangePassword: boolean;
  createdBy: string;
  createdAt: Date;
  lastSignInAt: Date | null;
  disabledAt: Date | null;
}

/** People who sign in to the UI. */
export interface AccountStore {
  findByEmail(email: string): Promise<(Account & { passwordHash: string }) | null>;
  get(id: string): Promise<Account | null>;
  list(): Promise<Account[]>;
  count(): Promise<number>;
  /** Throws a unique violation when the email is taken. */
  create(a: { email: string; name: string; role: Role; passwordHash: string; mustChangePassword: boolean; createdBy: string; at: Date }): Promise<Account>;
  update(id: string, patch: { role?: Role; name?: string; passwordHash?: string; mustChangePassword?: boolean; disabledAt?: Date | null }, at: Date): Promise<Account | null>;
  recordSignIn(id: string, at: Date): Promise<void>;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  traceId: string | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  entityType?: string;
  entityId?: string;
  from?: Date;
  to?: Date;
  /** Entries with an id below this (newest first paging). */
  before?: number;
  limit: number;
}

/** The append-only audit log: no update or delete exists. */
export interface AuditLog {
  append(e: { actor: string; action: string; entityType: string; entityId: string; before?: unknown; after?: unknown; traceId?: string; at: Date }): Promise<void>;
  list(filter: AuditFilter): Promise<AuditEntry[]>;
}
