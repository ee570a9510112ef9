/**
 * The messages the realtime WebSocket channels send (server → client, JSON text frames).
 * Documented in docs/realtime.md. Types only: safe to import from client components.
 */
import type { TransitionCause } from "@/lib/ports/memberships";

export type RealtimeCause = TransitionCause;

export interface EvaluationProgressView {
  state: "backfilling" | "ready";
  version: number;
  usersTotal: number;
  usersRemaining: number;
  /** ISO-8601. */
  updatedAt: string;
}

export interface SegmentSnapshotMessage {
  type: "snapshot";
  segmentId: string;
  at: string;
  segment: { name: string; type: "INDEPENDENT" | "DERIVED"; active: boolean; version: number };
  stats: {
    currentMembers: number;
    entriesLast24h: number;
    exitsLast24h: number;
    evaluation: EvaluationProgressView | null;
  };
}

export interface SegmentTransitionMessage {
  type: "transition";
  /** Deterministic: a redelivered transition carries the same id. */
  id: string;
  segmentId: string;
  userId: string;
  kind: "enter" | "exit";
  at: string;
  cause: RealtimeCause;
  version: number;
}

export interface SkippedMessage {
  type: "skipped";
  /** Transitions not sent in the last second (rate limit of 50 per second per connection). */
  count: number;
  at: string;
}

export interface SegmentDeletedMessage {
  type: "deleted";
  segmentId: string;
  at: string;
}

export interface ErrorMessage {
  type: "error";
  code: string;
  message: string;
}

/** What `/ws/segments/{id}/realtime` sends. */
export type SegmentChannelMessage =
  | SegmentSnapshotMessage
  | SegmentTransitionMessage
  | SkippedMessage
  | SegmentDeletedMessage
  | ErrorMessage;

export interface UserSnapshotMessage {
  type: "snapshot";
  userId: string;
  at: string;
  segments: { segmentId: string; name: string | null; enteredAt: string; version: number }[];
}

export interface UserTransitionMessage extends Omit<SegmentTransitionMessage, "type"> {
  type: "transition";
  segmentName: string | null;
}

/** What `/ws/users/{id}/segments` sends. */
export type UserChannelMessage = UserSnapshotMessage | UserTransitionMessage | SkippedMessage | ErrorMessage;

/** WebSocket close codes the server uses besides the standard ones. */
export const CLOSE_SEGMENT_DELETED = 4404;
