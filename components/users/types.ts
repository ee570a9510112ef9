/** User lookup shapes as the REST API returns them (JSON: dates are strings). */
import type { EventType } from "@/lib/segments/definition";
import type { SegmentExplanation } from "@/lib/evaluation/explain";
import type { TransitionCause } from "@/lib/ports/memberships";

export interface ApiProfile {
  userId: string;
  email: string | null;
  phone: string | null;
  deviceTokens: unknown[];
  timezone: string | null;
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface CurrentSegment {
  segmentId: string;
  name: string | null;
  enteredAt: string;
  version: number;
}

export interface UserSegments {
  userId: string;
  segments: CurrentSegment[];
}

export interface HistoryRow {
  segmentId: string;
  segmentName: string | null;
  enteredAt: string;
  exitedAt: string | null;
  enterCause: TransitionCause;
  exitCause: TransitionCause | null;
  definitionVersion: number;
}

export interface HistoryPage {
  userId: string;
  data: HistoryRow[];
  next: string | null;
}

export interface ApiUserEvent {
  eventId: string;
  eventType: EventType;
  timestamp: string;
  receivedAt: string;
  attributes: Record<string, unknown>;
  sessionId: string | null;
  deviceId: string | null;
}

export interface UserEventsPage {
  userId: string;
  since: string;
  data: ApiUserEvent[];
}

export type { ExprExplanation, RuleExplanation } from "@/lib/evaluation/explain";

/** GET /api/v1/users/{id}/segments/{segmentId}/explain: the engine's explanation, for a user at an instant. */
export type Explanation = SegmentExplanation & { userId: string; at: string };

/** What each transition cause means, in the words the timeline uses. */
export const causeLabels: Record<TransitionCause, string> = {
  event: "an event",
  time: "the window slid past",
  definition: "the definition changed",
  deactivated: "segment deactivated",
  deleted: "segment deleted",
  erased: "user erased",
};
