import { customType, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

/**
 * The segment processor's state per input partition, written together with the offset it
 * covers: a restarted (or newly assigned) worker restores it and skips what it already applied.
 */
export const processorCheckpoints = pgTable(
  "processor_checkpoints",
  {
    groupId: text("group_id").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    /** The last offset whose effects the snapshot includes. */
    offset: text("offset").notNull(),
    /** gzip'd JSON PartitionSnapshot. */
    snapshot: bytea("snapshot").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "processor_checkpoints_pk", columns: [t.groupId, t.topic, t.partition] })],
);

/**
 * Backfill progress after a definition change, per processor instance: the web sums the rows
 * of a segment's current version to show how far evaluation has got.
 */
export const segmentEvaluationProgress = pgTable(
  "segment_evaluation_progress",
  {
    segmentId: text("segment_id").notNull(),
    instanceId: text("instance_id").notNull(),
    version: integer("version").notNull(),
    usersTotal: integer("users_total").notNull(),
    usersRemaining: integer("users_remaining").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "segment_evaluation_progress_pk", columns: [t.segmentId, t.instanceId] })],
);
