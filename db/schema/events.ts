import { bigserial, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/**
 * Seed §4 UserEvent. The event stream itself lives in the event log (Kafka or the local log);
 * the segment processor archives the last 24 hours here for user lookups and the explain view.
 */
export const userEvents = pgTable(
  "user_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** Assigned at ingestion: a replayed event is stored once. */
    eventId: uuid("event_id").notNull(),
    userId: text("user_id").notNull(),
    eventType: text("event_type", { enum: ["clicks", "installs", "orders", "addToCart"] }).notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
    attributes: jsonb("attributes").notNull().default({}),
    sessionId: text("session_id"),
    deviceId: text("device_id"),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /**
     * When the segment processor archived it, which it does after evaluating it (batched in the
     * background, within about 100 ms): the dashboard reads evaluation lag as
     * archivedAt − receivedAt and throughput from this index.
     */
    archivedAt: timestamp("archived_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("user_events_event_uq").on(t.eventId),
    index("user_events_user_idx").on(t.userId, t.occurredAt.desc()),
    index("user_events_occurred_idx").on(t.occurredAt),
    index("user_events_archived_idx").on(t.archivedAt),
  ],
);
