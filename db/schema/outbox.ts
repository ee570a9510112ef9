import { sql } from "drizzle-orm";
import { bigserial, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Transactional outbox: a change and its event commit together; the relay publishes rows to
 * the event log in id order and stamps publishedAt, so no committed change is lost.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    topic: text("topic").notNull(),
    key: text("key").notNull(),
    payload: jsonb("payload").notNull(),
    headers: jsonb("headers").notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("outbox_pending_idx").on(t.id).where(sql`${t.publishedAt} is null`)],
);
