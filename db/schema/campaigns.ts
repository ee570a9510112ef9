import { sql } from "drizzle-orm";
import { check, foreignKey, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { segments } from "./segments";

/** Seed §4.2 Campaign: a message sent on segment entry, exit, or to all members in a batch. */
export const campaigns = pgTable(
  "campaigns",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    segmentId: uuid("segment_id").notNull(),
    channelType: text("channel_type", { enum: ["email", "push", "sms"] }).notNull(),
    trigger: text("trigger", { enum: ["ON_ENTER", "ON_EXIT", "BATCH"] }).notNull(),
    subject: text("subject"),
    template: text("template").notNull(),
    status: text("status", { enum: ["DRAFT", "ACTIVE", "PAUSED", "COMPLETED"] }).notNull().default("DRAFT"),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date" }),
    /** Rate limit, frequency cap and quiet-hours settings. */
    policy: jsonb("policy").notNull().default({}),
    version: integer("version").notNull().default(1),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: "campaigns_segment_fk", columns: [t.segmentId], foreignColumns: [segments.id] }),
    index("campaigns_segment_idx").on(t.segmentId, t.status),
    index("campaigns_status_idx").on(t.status, t.createdAt),
    check("campaigns_subject_ck", sql`${t.channelType} <> 'email' or ${t.subject} is not null`),
  ],
);
