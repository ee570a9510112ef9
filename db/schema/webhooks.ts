import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { segments } from "./segments";

/**
 * Membership webhooks: a subscription receives a signed POST for every entry and/or exit of one
 * segment (or of every segment when `segment_id` is null). See lib/services/webhook-dispatcher.ts.
 */
export const webhookSubscriptions = pgTable(
  "webhook_subscriptions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    description: text("description"),
    url: text("url").notNull(),
    /**
     * The signing secret, encrypted with WEBHOOK_SECRET_KEY (`enc:v1:…`), or `plain:…` when no key
     * is configured. Returned once, at creation; never in reads.
     */
    secretCiphertext: text("secret_ciphertext").notNull(),
    /** The secret's last 4 characters, to recognise it. */
    secretHint: text("secret_hint").notNull(),
    /** Null: every segment. */
    segmentId: uuid("segment_id"),
    /** Which transitions: enter, exit. */
    events: text("events").array().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    /** Why it was disabled (by the dispatcher after repeated failures, or by a caller). */
    disabledReason: text("disabled_reason"),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    /** Failed attempts in a row, over all its deliveries; a success resets it. */
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: "webhook_subscriptions_segment_fk", columns: [t.segmentId], foreignColumns: [segments.id] }),
    index("webhook_subscriptions_segment_idx").on(t.segmentId),
    index("webhook_subscriptions_created_idx").on(t.createdAt, t.id),
    check("webhook_subscriptions_events_ck", sql`cardinality(${t.events}) > 0 and ${t.events} <@ array['enter','exit']::text[]`),
  ],
);

/**
 * One row per (subscription, membership transition): created before the first attempt, so a
 * redelivered transition finds it. Its id is the delivery id every attempt carries
 * (X-AM-Delivery-Id) for the receiver to deduplicate.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    subscriptionId: uuid("subscription_id").notNull(),
    /** The transition's deterministic id (userId|segmentId|kind|at). */
    transitionId: text("transition_id").notNull(),
    event: text("event", { enum: ["enter", "exit"] }).notNull(),
    segmentId: uuid("segment_id").notNull(),
    userId: text("user_id").notNull(),
    /** The exact JSON body sent (and signed) on every attempt. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** When the next attempt is due (pending); a claimed delivery is pushed out by a lease. */
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    /** HTTP status of the last attempt; null when it got no response. */
    lastResponseCode: integer("last_response_code"),
    lastError: text("last_error"),
    /** The last attempts: [{at, responseCode, error, durationMs}], newest last, at most 10. */
    attemptLog: jsonb("attempt_log").notNull().default([]),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    foreignKey({
      name: "webhook_deliveries_subscription_fk",
      columns: [t.subscriptionId],
      foreignColumns: [webhookSubscriptions.id],
    }).onDelete("cascade"),
    uniqueIndex("webhook_deliveries_transition_uq").on(t.subscriptionId, t.transitionId),
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_subscription_idx").on(t.subscriptionId, t.createdAt.desc(), t.id),
  ],
);
