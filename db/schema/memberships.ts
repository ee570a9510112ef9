import { sql } from "drizzle-orm";
import { check, foreignKey, index, uniqueIndex, integer, pgTable, primaryKey, bigserial, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { segments } from "./segments";

export const transitionCauses = ["event", "time", "definition", "deactivated", "deleted", "erased"] as const;

/** Seed §4 UserSegmentMapping, current part: who is in which segment right now. */
export const userSegmentMemberships = pgTable(
  "user_segment_memberships",
  {
    userId: text("user_id").notNull(),
    segmentId: uuid("segment_id").notNull(),
    enteredAt: timestamp("entered_at", { withTimezone: true, mode: "date" }).notNull(),
    definitionVersion: integer("definition_version").notNull(),
  },
  (t) => [
    primaryKey({ name: "user_segment_memberships_pk", columns: [t.userId, t.segmentId] }),
    foreignKey({
      name: "user_segment_memberships_segment_fk",
      columns: [t.segmentId],
      foreignColumns: [segments.id],
    }),
    index("user_segment_memberships_segment_idx").on(t.segmentId, t.userId),
  ],
);

/** Seed §4 UserSegmentMapping, history part: every entry and exit, with cause and version. */
export const userSegmentHistory = pgTable(
  "user_segment_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: text("user_id").notNull(),
    segmentId: uuid("segment_id").notNull(),
    enteredAt: timestamp("entered_at", { withTimezone: true, mode: "date" }).notNull(),
    exitedAt: timestamp("exited_at", { withTimezone: true, mode: "date" }),
    enterCause: text("enter_cause", { enum: transitionCauses }).notNull(),
    exitCause: text("exit_cause", { enum: transitionCauses }),
    definitionVersion: integer("definition_version").notNull(),
  },
  (t) => [
    foreignKey({
      name: "user_segment_history_segment_fk",
      columns: [t.segmentId],
      foreignColumns: [segments.id],
    }),
    index("user_segment_history_user_idx").on(t.userId, t.enteredAt.desc()),
    // One row per entry: a replayed entry is a no-op.
    uniqueIndex("user_segment_history_entry_uq").on(t.userId, t.segmentId, t.enteredAt),
    index("user_segment_history_segment_entered_idx").on(t.segmentId, t.enteredAt),
    index("user_segment_history_segment_exited_idx").on(t.segmentId, t.exitedAt),
    // The retention purge finds closed entries past retention by it (lib/services/retention.ts).
    index("user_segment_history_exited_idx").on(t.exitedAt).where(sql`${t.exitedAt} is not null`),
    check(
      "user_segment_history_exit_ck",
      sql`(${t.exitedAt} is null) = (${t.exitCause} is null)`,
    ),
  ],
);
