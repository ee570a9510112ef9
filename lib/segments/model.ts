import { z } from "zod";
import type { ExprNode } from "./expression";
import { eventTypes, operators, ruleAttributes, segmentTypes, type Rule, type SegmentType } from "./definition";

/** A stored segment definition, as the API returns it (seed §4, camelCase). */
export interface Segment {
  id: string;
  name: string;
  description: string | null;
  type: SegmentType;
  active: boolean;
  version: number;
  /** INDEPENDENT: all must hold. Empty for DERIVED. */
  rules: Rule[];
  /** DERIVED: canonical expression text. Null for INDEPENDENT. */
  logicalExpression: string | null;
  expressionTree: ExprNode | null;
  /** Seed §4 SegmentDependency rows, derived from the expression. */
  dependencies: SegmentDependency[];
  createdBy: string;
  updatedBy: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface SegmentDependency {
  segmentId: string;
  dependsOnSegmentId: string;
}

/** Membership figures shown with a segment. */
export interface SegmentStats {
  currentMembers: number;
  entriesLast24h: number;
  exitsLast24h: number;
}

/** The definition part of a segment, as stored in version history and published on changes. */
export function definitionOf(s: Segment) {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    type: s.type,
    active: s.active,
    version: s.version,
    rules: s.rules,
    logicalExpression: s.logicalExpression,
    expressionTree: s.expressionTree,
    dependencies: s.dependencies.map((d) => d.dependsOnSegmentId),
  };
}
export type SegmentDefinition = ReturnType<typeof definitionOf>;

const exprNodeSchema: z.ZodType<ExprNode> = z.lazy(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.literal("segment"), id: z.string() }),
    z.object({ type: z.literal("not"), operand: exprNodeSchema }),
    z.object({ type: z.literal("and"), operands: z.array(exprNodeSchema).min(2) }),
    z.object({ type: z.literal("or"), operands: z.array(exprNodeSchema).min(2) }),
  ]),
);

const storedRuleSchema = z.object({
  eventType: z.enum(eventTypes),
  attribute: z.enum(ruleAttributes),
  field: z.string().nullable(),
  operator: z.enum(operators),
  value: z.number(),
  windowMinutes: z.number().int().min(1).max(1440),
});

export const segmentDefinitionMessageSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  type: z.enum(segmentTypes),
  active: z.boolean(),
  version: z.number().int().min(1),
  rules: z.array(storedRuleSchema),
  logicalExpression: z.string().nullable(),
  expressionTree: exprNodeSchema.nullable(),
  dependencies: z.array(z.string()),
});

/**
 * A message on the `segment-updates` topic (key: segmentId). Consumers parse every message
 * with this schema: payloads that cross a process boundary are not trusted.
 */
export const segmentUpdateMessageSchema = z.object({
  kind: z.enum(["created", "updated", "status", "deleted"]),
  segmentId: z.string(),
  version: z.number().int().min(1),
  at: z.string(),
  definition: segmentDefinitionMessageSchema,
});
export type SegmentUpdateMessage = z.infer<typeof segmentUpdateMessageSchema>;
