/** Segment shapes as the REST API returns them (JSON: dates are strings). */
import type { EventType, Operator, RuleAttribute, SegmentType } from "@/lib/segments/definition";
import type { ExprNode } from "@/lib/segments/expression";

export interface ApiRule {
  eventType: EventType;
  attribute: RuleAttribute;
  field: string | null;
  operator: Operator;
  value: number;
  windowMinutes: number;
}

export interface ApiSegment {
  id: string;
  name: string;
  description: string | null;
  type: SegmentType;
  active: boolean;
  version: number;
  rules: ApiRule[];
  logicalExpression: string | null;
  expressionTree: ExprNode | null;
  dependencies: { segmentId: string; dependsOnSegmentId: string }[];
  createdBy: string;
  updatedBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface ApiEvaluation {
  state: "backfilling" | "ready";
  version: number;
  usersTotal: number;
  usersRemaining: number;
  updatedAt: string;
}

export interface ApiSegmentDetail extends ApiSegment {
  stats: { currentMembers: number; entriesLast24h: number; exitsLast24h: number; evaluation: ApiEvaluation | null };
}

export interface SegmentPage {
  data: ApiSegment[];
  pagination: { page: number; pageSize: number; total: number; totalPages: number };
}

export interface ActivityPoint {
  at: string;
  members: number;
  entries: number;
  exits: number;
}

export interface SegmentActivity {
  segmentId: string;
  currentMembers: number;
  points: ActivityPoint[];
}

export interface Estimate {
  matching: number;
  population: number;
  computedAt: string;
  sampled: boolean;
  evaluatedUsers: number;
  activeUsers: number;
  quietUsers: number;
  durationMs: number;
}
