import type { EventType } from "@/lib/segments/definition";

/** A message accepted but not evaluated, counted under its name (see db/schema/integrations.ts). */
export interface UnmappedSample {
  name: string;
  userId: string | null;
  properties: Record<string, unknown>;
}

export interface UnmappedEventCount {
  eventName: string;
  count: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
  lastUserId: string | null;
  lastProperties: Record<string, unknown>;
}

export interface StoredEventMapping {
  eventName: string;
  eventType: EventType;
  updatedBy: string;
  updatedAt: Date;
}

/** Storage of the Segment-spec ingestion: message-id dedup, event mappings, unmapped counts. */
export interface SegmentIngestStore {
  /**
   * In one transaction: records which of `messageIds` were not seen from `sourceId` since
   * `seenSince`, calls `deliver` with those, records the unmapped samples it returns, and
   * commits only if `deliver` resolves — so a failed delivery leaves the ids free for the
   * client's retry, and a retry of a delivered message finds its id. `deliver` must not use the
   * database (PGlite has a single connection, held by this transaction).
   */
  once(
    sourceId: string,
    messageIds: readonly string[],
    now: Date,
    seenSince: Date,
    deliver: (fresh: ReadonlySet<string>) => Promise<UnmappedSample[]>,
  ): Promise<ReadonlySet<string>>;
  /** Forgets ids received before `before`; returns how many. */
  purgeMessageIds(before: Date): Promise<number>;
  mappings(): Promise<StoredEventMapping[]>;
  putMapping(eventName: string, eventType: EventType, actor: string, now: Date): Promise<StoredEventMapping>;
  /** False when there was none. */
  deleteMapping(eventName: string): Promise<boolean>;
  /** Unmapped names, most frequent first. */
  unmapped(limit: number): Promise<UnmappedEventCount[]>;
}
