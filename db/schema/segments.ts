import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** Seed §4 Segment. Deletion is soft (deletedAt) so history and campaigns keep their reference. */
export const segments = pgTable(
  "segments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    description: text("description"),
    type: text("type", { enum: ["INDEPENDENT", "DERIVED"] }).notNull(),
    active: boolean("active").notNull().default(true),
    version: integer("version").notNull().default(1),
    /** Canonical text of a derived segment's expression; null for independent ones. */
    logicalExpression: text("logical_expression"),
    /** Parsed expression tree (lib/segments/expression.ts ExprNode). */
    expressionTree: jsonb("expression_tree"),
    createdBy: text("created_by").notNull(),
    updatedBy: text("updated_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("segments_name_live_uq").on(sql`lower(${t.name})`).where(sql`${t.deletedAt} is null`),
    index("segments_list_idx").on(t.createdAt, t.id).where(sql`${t.deletedAt} is null`),
    check("segments_type_ck", sql`${t.type} in ('INDEPENDENT','DERIVED')`),
    check(
      "segments_shape_ck",
      sql`(${t.type} = 'DERIVED') = (${t.logicalExpression} is not null)`,
    ),
    check("segments_version_ck", sql`${t.version} >= 1`),
  ],
);

/** Seed §4 SegmentRule: one aggregate condition of an independent segment (all must hold). */
export const segmentRules = pgTable(
  "segment_rules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    segmentId: uuid("segment_id").notNull(),
    position: smallint("position").notNull(),
    eventType: text("event_type", { enum: ["clicks", "installs", "orders", "addToCart"] }).notNull(),
    attribute: text("attribute", { enum: ["count", "sum"] }).notNull(),
    /** Numeric event attribute a `sum` adds up; null for `count`. */
    field: text("field"),
    operator: text("operator", { enum: ["GT", "LT", "EQ", "GTE", "LTE", "NEQ"] }).notNull(),
    value: doublePrecision("value").notNull(),
    windowMinutes: integer("window_minutes").notNull(),
  },
  (t) => [
    foreignKey({ name: "segment_rules_segment_fk", columns: [t.segmentId], foreignColumns: [segments.id] }).onDelete(
      "cascade",
    ),
    uniqueIndex("segment_rules_position_uq").on(t.segmentId, t.position),
    check("segment_rules_window_ck", sql`${t.windowMinutes} between 1 and 1440`),
    check(
      "segment_rules_field_ck",
      sql`(${t.attribute} = 'sum') = (${t.field} is not null)`,
    ),
  ],
);

/** Seed §4 SegmentDependency: a derived segment references another segment. */
export const segmentDependencies = pgTable(
  "segment_dependencies",
  {
    segmentId: uuid("segment_id").notNull(),
    dependsOnSegmentId: uuid("depends_on_segment_id").notNull(),
  },
  (t) => [
    primaryKey({ name: "segment_dependencies_pk", columns: [t.segmentId, t.dependsOnSegmentId] }),
    foreignKey({
      name: "segment_dependencies_segment_fk",
      columns: [t.segmentId],
      foreignColumns: [segments.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "segment_dependencies_depends_on_fk",
      columns: [t.dependsOnSegmentId],
      foreignColumns: [segments.id],
    }),
    index("segment_dependencies_depends_on_idx").on(t.dependsOnSegmentId),
    check("segment_dependencies_self_ck", sql`${t.segmentId} <> ${t.dependsOnSegmentId}`),
  ],
);

/** Every version of every definition, for the history view and for audits of what was evaluated. */
export const segmentVersions = pgTable(
  "segment_versions",
  {
    segmentId: uuid("segment_id").notNull(),
    version: integer("version").notNull(),
    definition: jsonb("definition").notNull(),
    changedBy: text("changed_by").notNull(),
    changedAt: timestamp("changed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "segment_versions_pk", columns: [t.segmentId, t.version] }),
    foreignKey({
      name: "segment_versions_segment_fk",
      columns: [t.segmentId],
      foreignColumns: [segments.id],
    }).onDelete("cascade"),
  ],
);

export type SegmentRow = typeof segments.$inferSelect;
export type NewSegmentRow = typeof segments.$inferInsert;
export type SegmentRuleRow = typeof segmentRules.$inferSelect;
export type NewSegmentRuleRow = typeof segmentRules.$inferInsert;
