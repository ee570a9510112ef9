/** Kafka topics (and local-log topics in embedded mode). See docs/architecture.md. */
export const TOPICS = {
  userEvents: "user-events",
  segmentUpdates: "segment-updates",
  segmentMemberships: "segment-memberships",
  campaignTriggers: "campaign-triggers",
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export const ALL_TOPICS: TopicName[] = Object.values(TOPICS);
