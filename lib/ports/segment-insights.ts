/**
 * Read-only questions the segment pages ask of the history and the retained events: activity per
 * hour (sparklines, detail charts) and the population a size estimate runs over.
 */
import type { EngineEvent } from "@/lib/evaluation/engine";

export interface HourlyActivity {
  segmentId: string;
  /** Start of the hour, epoch milliseconds (UTC-aligned). */
  hourMs: number;
  entries: number;
  exits: number;
}

export interface SegmentActivityReader {
  /** Entries and exits per hour since `sinceMs` for each of the segments (hours without any are left out). */
  hourly(segmentIds: readonly string[], sinceMs: number): Promise<HourlyActivity[]>;
}

export interface PopulationReader {
  /** Distinct users with a retained event after `sinceMs`. */
  countActiveUsers(sinceMs: number): Promise<number>;
  /** Users with a profile and no retained event after `sinceMs` (known, but quiet). */
  countQuietProfiles(sinceMs: number): Promise<number>;
  /**
   * Active users in user-id order. With `bucketsOf1024 < 1024`, only users whose id hashes into
   * the first that many of 1024 buckets: a uniform sample whose size the caller chooses.
   */
  activeUsers(sinceMs: number, options: { bucketsOf1024: number; limit: number }): Promise<string[]>;
  /** The retained events of these users after `sinceMs`. */
  eventsOf(userIds: readonly string[], sinceMs: number): Promise<EngineEvent[]>;
}
