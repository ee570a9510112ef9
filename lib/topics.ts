/** Kafka topics (and local-log topics in embedded mode). See docs/architecture.md. */
export const TOPICS = {
  userEvents: "user-events",
  segmentUpdates: "segment-updates",
  segmentMemberships: "segment-memberships",
  campaignTriggers: "campaign-triggers",
  /**
   * Messages a consumer could not use and will not retry (unparseable, or naming data its
   * database does not have), wrapped in a {@link DeadLetter} envelope. Key: the original key.
   */
  deadLetters: "dead-letters",
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export const ALL_TOPICS: TopicName[] = Object.values(TOPICS);

/** The value of a `dead-letters` message (JSON). */
export interface DeadLetter {
  /** Which consumer gave up on it (e.g. "segment-processor"). */
  consumer: string;
  /** Where it came from; absent for something derived from several messages (a write of transitions). */
  source?: { topic: string; partition: number; offset: string; key: string; timestamp: number };
  /** A short machine-readable reason: "unparseable", "unknown-segment", "foreign-key", "invalid-data". */
  reason: string;
  /** The error text. */
  error: string;
  /** The original value (JSON text) or the data that could not be written. */
  value: string;
  /** Epoch milliseconds when it was dead-lettered. */
  at: number;
}
