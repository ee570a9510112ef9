/**
 * Membership serving and history. The serving store (current memberships) is PostgreSQL/PGlite
 * or Aerospike; history always lives in PostgreSQL. Every adapter passes one contract suite
 * (lib/adapters/memberships/contract.ts).
 */

export type TransitionCause = "event" | "time" | "definition" | "deactivated" | "deleted" | "erased";

/** One entry or exit, as the segment processor emits it. */
export interface MembershipChange {
  userId: string;
  segmentId: string;
  kind: "enter" | "exit";
  /** Epoch milliseconds. */
  at: number;
  cause: TransitionCause;
  /** Definition version of the segment that changed. */
  version: number;
}

export interface CurrentMembership {
  segmentId: string;
  enteredAt: Date;
  version: number;
}

export interface MemberPage {
  members: { userId: string; enteredAt: Date }[];
  /** Cursor for the next page, or null at the end. */
  next: string | null;
}

export interface MembershipStore {
  /**
   * Applies changes in the order given. Idempotent under at-least-once delivery: re-applying a
   * batch, or a suffix of the stream in order, converges to the same state.
   */
  apply(changes: readonly MembershipChange[]): Promise<void>;
  /** The user's current memberships (empty for an unknown user). */
  segmentsOf(userId: string): Promise<CurrentMembership[]>;
  /** A segment's current members in user-id order, after the cursor; only ids starting with `prefix` when given. */
  members(segmentId: string, page: { after?: string; limit: number; prefix?: string }): Promise<MemberPage>;
  countMembers(segmentId: string): Promise<number>;
  /** Forgets every membership of the user. */
  eraseUser(userId: string): Promise<void>;
  close?(): Promise<void>;
}

export interface HistoryEntry {
  segmentId: string;
  enteredAt: Date;
  exitedAt: Date | null;
  enterCause: TransitionCause;
  exitCause: TransitionCause | null;
  definitionVersion: number;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  next: string | null;
}

export interface MembershipHistory {
  /** Records entries and exits; idempotent like MembershipStore.apply. */
  record(changes: readonly MembershipChange[]): Promise<void>;
  /** A user's entries and exits, newest entry first. */
  ofUser(userId: string, page: { before?: string; limit: number }): Promise<HistoryPage>;
  eraseUser(userId: string): Promise<void>;
}
