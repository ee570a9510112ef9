/**
 * The explain view: for one user and one segment, each rule's aggregate against its threshold,
 * and for a derived segment the expression tree with each node's value — computed from the
 * user's events with the engine's window semantics. Pure.
 */
import { compare, DEFAULT_SUM_FIELD, type Operator } from "@/lib/segments/definition";
import type { ExprNode } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import { inWindow, relSecond } from "./window";
import { fieldValue } from "./values";
import type { EngineEvent } from "./engine";

export interface RuleExplanation {
  eventType: string;
  attribute: "count" | "sum";
  field: string | null;
  windowMinutes: number;
  operator: Operator;
  threshold: number;
  aggregate: number;
  holds: boolean;
}

export type ExprExplanation =
  | { type: "segment"; segmentId: string; name: string | null; active: boolean; value: boolean }
  | { type: "not"; value: boolean; operand: ExprExplanation }
  | { type: "and" | "or"; value: boolean; operands: ExprExplanation[] };

export interface SegmentExplanation {
  segmentId: string;
  name: string;
  type: "INDEPENDENT" | "DERIVED";
  version: number;
  active: boolean;
  /** Whether the definition holds for the user now. */
  holds: boolean;
  rules: RuleExplanation[] | null;
  expression: ExprExplanation | null;
}

export function explainSegment(
  segment: SegmentDefinition,
  definitions: ReadonlyMap<string, SegmentDefinition>,
  events: readonly EngineEvent[],
  nowMs: number,
): SegmentExplanation {
  const now = relSecond(nowMs);
  const memo = new Map<string, boolean>();

  const ruleOf = (r: SegmentDefinition["rules"][number]): RuleExplanation => {
    let aggregate = 0;
    for (const e of events) {
      if (e.eventType !== r.eventType || !inWindow(relSecond(e.timestamp) * 2, now, r.windowMinutes)) continue;
      aggregate += r.attribute === "count" ? 1 : fieldValue(e.attributes, r.field ?? DEFAULT_SUM_FIELD);
    }
    return {
      eventType: r.eventType,
      attribute: r.attribute,
      field: r.field,
      windowMinutes: r.windowMinutes,
      operator: r.operator,
      threshold: r.value,
      aggregate,
      holds: compare(aggregate, r.operator, r.value),
    };
  };

  const holds = (id: string, seen: Set<string>): boolean => {
    const cached = memo.get(id);
    if (cached !== undefined) return cached;
    const d = definitions.get(id);
    let value = false;
    if (d && d.active && !seen.has(id)) {
      if (d.type === "INDEPENDENT") value = d.rules.length > 0 && d.rules.every((r) => ruleOf(r).holds);
      else if (d.expressionTree) value = tree(d.expressionTree, new Set([...seen, id])).value;
    }
    memo.set(id, value);
    return value;
  };

  const tree = (node: ExprNode, seen: Set<string>): ExprExplanation => {
    switch (node.type) {
      case "segment": {
        const d = definitions.get(node.id);
        return { type: "segment", segmentId: node.id, name: d?.name ?? null, active: d?.active ?? false, value: holds(node.id, seen) };
      }
      case "not": {
        const operand = tree(node.operand, seen);
        return { type: "not", value: !operand.value, operand };
      }
      case "and":
      case "or": {
        const operands = node.operands.map((o) => tree(o, seen));
        const value = node.type === "and" ? operands.every((o) => o.value) : operands.some((o) => o.value);
        return { type: node.type, value, operands };
      }
    }
  };

  if (segment.type === "INDEPENDENT") {
    const rules = segment.rules.map(ruleOf);
    return {
      segmentId: segment.id,
      name: segment.name,
      type: segment.type,
      version: segment.version,
      active: segment.active,
      holds: segment.active && rules.length > 0 && rules.every((r) => r.holds),
      rules,
      expression: null,
    };
  }
  const expression = segment.expressionTree ? tree(segment.expressionTree, new Set([segment.id])) : null;
  return {
    segmentId: segment.id,
    name: segment.name,
    type: segment.type,
    version: segment.version,
    active: segment.active,
    holds: segment.active && (expression?.value ?? false),
    rules: null,
    expression,
  };
}
