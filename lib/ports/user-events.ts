import type { IngestedEvent } from "@/lib/events/schema";

/** The recent events of each user (24 h), for lookups and the explain view. */
export interface UserEventArchive {
  /** Stores events; idempotent by eventId. */
  append(events: readonly IngestedEvent[]): Promise<void>;
  /** The user's events with a timestamp after `sinceMs`, newest first. */
  recent(userId: string, sinceMs: number, limit: number): Promise<IngestedEvent[]>;
  /** Deletes events older than `beforeMs`; returns how many. */
  purgeBefore(beforeMs: number): Promise<number>;
  eraseUser(userId: string): Promise<void>;
}
