import { bigserial, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Seed §4 UserEvent. The event stream itself lives in the event log (Kafka or the local log);
 * this table keeps the recent events a user lookup shows.
 */
export const userEvents = pgTable(
  "user_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: text("user_id").notNull(),
    eventType: text("event_type", { enum: ["clicks", "installs", "orders", "addToCart"] }).notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
    attributes: jsonb("attributes").notNull().default({}),
    sessionId: text("session_id"),
    deviceId: text("device_id"),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("user_events_user_idx").on(t.userId, t.occurredAt.desc()),
    index("user_events_occurred_idx").on(t.occurredAt),
  ],
);
