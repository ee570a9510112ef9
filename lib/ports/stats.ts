/**
 * Read-only figures for the dashboard, each computed from a table the pipeline writes: the
 * event archive (user_events), the membership history, campaign sends, processor checkpoints
 * and the outbox. Nothing here is sampled or estimated.
 */

export interface MinuteCount {
  /** Start of the minute. */
  minute: Date;
  count: number;
}

export interface IngestionFigures {
  /** Events by the minute they were ingested (receivedAt), counted once the processor archived them. */
  perMinute: MinuteCount[];
  /** Events ingested in [since, now] that have been evaluated (archived). */
  total: number;
  /** When the newest archived event was archived, or null when the archive is empty. */
  lastArchivedAt: Date | null;
}

export interface LagFigures {
  /** How many events the percentiles cover (the newest archived, at most `sample`). */
  events: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface TransitionMinute {
  minute: Date;
  entries: number;
  exits: number;
}

export interface SegmentFlow {
  segmentId: string;
  entries: number;
  exits: number;
}

export interface LiveSegment {
  id: string;
  name: string;
  type: "INDEPENDENT" | "DERIVED";
  active: boolean;
}

export interface CheckpointGroup {
  groupId: string;
  partitions: number;
  /** Oldest and newest checkpoint of the group's partitions. */
  oldest: Date;
  newest: Date;
}

export interface StatsStore {
  /** Live (not deleted) segments, and the ids of every segment ever created (history keeps deleted ones). */
  segments(): Promise<{ live: LiveSegment[]; allIds: string[] }>;
  /** Per minute since `since`; `recent` counts the events ingested since `recentSince`. */
  ingestion(since: Date, recentSince: Date): Promise<IngestionFigures & { recent: number }>;
  /**
   * archivedAt − receivedAt of the newest `sample` events archived since `since` (ingestion to
   * evaluated and archived; the archive trails evaluation by its batching delay); null when none.
   */
  evaluationLag(since: Date, sample: number): Promise<LagFigures | null>;
  /** Entries and exits per minute since `since`, of these segments. */
  transitionsPerMinute(segmentIds: readonly string[], since: Date): Promise<TransitionMinute[]>;
  /** Entries and exits since `since`, per segment. */
  flowBySegment(segmentIds: readonly string[], since: Date): Promise<SegmentFlow[]>;
  /** Every campaign send by status. */
  sendsByStatus(): Promise<Record<"queued" | "sending" | "sent" | "failed" | "skipped", number>>;
  checkpoints(groupId: string): Promise<CheckpointGroup | null>;
  /** Users with events archived since `since`, the most recently active first. */
  activeUsers(since: Date, limit: number): Promise<{ userId: string; events: number; lastEventAt: Date }[]>;
  /** Definition changes not yet published to segment-updates. */
  outbox(): Promise<{ pending: number; oldest: Date | null }>;
}
