import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Segment-spec ingestion (POST /v1/track, /identify, /batch). See lib/services/segment-ingest.ts.
 */

/**
 * `messageId`s seen in the last 24 hours, per source (the API key that sent them): a message the
 * SDK retries is accepted once. Rows older than 24 h are purged.
 */
export const segmentMessageIds = pgTable(
  "segment_message_ids",
  {
    /** Who sent it: the actor id of the write key (`api-key:<uuid>` or `admin-api-key`). */
    sourceId: text("source_id").notNull(),
    messageId: text("message_id").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    primaryKey({ name: "segment_message_ids_pk", columns: [t.sourceId, t.messageId] }),
    index("segment_message_ids_received_idx").on(t.receivedAt),
  ],
);

/** Segment event names mapped to our event types; these override SEGMENT_EVENT_MAP. */
export const segmentEventMappings = pgTable("segment_event_mappings", {
  eventName: text("event_name").primaryKey(),
  eventType: text("event_type", { enum: ["clicks", "installs", "orders", "addToCart"] }).notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/**
 * Messages accepted but not evaluated (a track event no mapping names, page, screen, group,
 * alias), counted per name, with the last one kept as a sample so a mapping can be added.
 */
export const segmentUnmappedEvents = pgTable("segment_unmapped_events", {
  /** The track event's name, or `(page)`, `(screen)`, `(group)`, `(alias)`. */
  eventName: text("event_name").primaryKey(),
  count: bigint("count", { mode: "number" }).notNull().default(0),
  firstSeenAt: timestamp("first_seen_at", { withTimezone: true, mode: "date" }).notNull(),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }).notNull(),
  lastUserId: text("last_user_id"),
  /** The last message's properties (or traits), as a sample. */
  lastProperties: jsonb("last_properties").notNull().default({}),
});
