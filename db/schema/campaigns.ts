import { sql } from "drizzle-orm";
import { bigserial, check, foreignKey, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
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

/** A batch run of a campaign: every member of its segment at the run's start, paged through. */
export const campaignRuns = pgTable(
  "campaign_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    campaignId: uuid("campaign_id").notNull(),
    status: text("status", { enum: ["SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "FAILED"] }).notNull(),
    requestedBy: text("requested_by").notNull(),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date" }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    /** Members found when the run started. */
    total: integer("total"),
    /** The last user id handed out (runs page through members in user-id order). */
    cursor: text("cursor"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** Heartbeat of the worker running it: a stale RUNNING run is taken over. */
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: "campaign_runs_campaign_fk", columns: [t.campaignId], foreignColumns: [campaigns.id] }),
    index("campaign_runs_campaign_idx").on(t.campaignId, t.createdAt),
    index("campaign_runs_due_idx").on(t.status, t.scheduledAt),
  ],
);

/**
 * Every send, keyed by an idempotency key recorded before the provider is called: one row per
 * (campaign, user, transition) or (campaign run, user), so a retry or a restart never sends twice.
 */
export const campaignSends = pgTable(
  "campaign_sends",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    idempotencyKey: text("idempotency_key").notNull(),
    campaignId: uuid("campaign_id").notNull(),
    runId: uuid("run_id"),
    userId: text("user_id").notNull(),
    channel: text("channel", { enum: ["email", "push", "sms"] }).notNull(),
    /** The membership transition that triggered it (ON_ENTER / ON_EXIT). */
    transitionId: text("transition_id"),
    status: text("status", { enum: ["queued", "sending", "sent", "failed", "skipped"] }).notNull(),
    reason: text("reason"),
    attempts: integer("attempts").notNull().default(0),
    providerMessageId: text("provider_message_id"),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    sentAt: timestamp("sent_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("campaign_sends_idempotency_uq").on(t.idempotencyKey),
    foreignKey({ name: "campaign_sends_campaign_fk", columns: [t.campaignId], foreignColumns: [campaigns.id] }),
    index("campaign_sends_campaign_idx").on(t.campaignId, t.createdAt),
    index("campaign_sends_run_idx").on(t.runId, t.status),
    index("campaign_sends_user_idx").on(t.userId, t.createdAt),
    index("campaign_sends_due_idx").on(t.status, t.nextAttemptAt),
    // The retention purge finds sends past retention by it (lib/services/retention.ts).
    index("campaign_sends_created_idx").on(t.createdAt),
  ],
);
