/**
 * The segment builder's state and its conversions to and from the API's definition. Pure (no
 * React), so the conversions are unit-tested: rule drafts ⇄ rules, the group tree ⇄ expression
 * nodes ⇄ expression text (through lib/segments' parser and formatter).
 */
import {
  createSegmentSchema,
  type EventType,
  type Operator,
  type RuleAttribute,
} from "@/lib/segments/definition";
import { findCycle, formatExpression, parseExpression, referencedSegments, ExpressionError, type ExprNode } from "@/lib/segments/expression";
import type { ApiRule } from "../types";

let seq = 0;
/** Keys for React lists and drag ids (never sent to the server). */
export const newKey = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(seq++).toString(36)}`;

export type WindowUnit = "minutes" | "hours";

export interface RuleDraft {
  key: string;
  eventType: EventType;
  attribute: RuleAttribute;
  /** Sum rules: the event attribute summed. */
  field: string;
  operator: Operator;
  /** As typed (validated on the way out). */
  value: string;
  windowValue: string;
  windowUnit: WindowUnit;
}

/** The block a palette item drops in: count ≥ 1 in 60 min, or a sum of `value` for orders. */
export function ruleFromPalette(eventType: EventType, attribute: RuleAttribute = "count", key = newKey("rule")): RuleDraft {
  return {
    key,
    eventType,
    attribute,
    field: attribute === "sum" ? "value" : "",
    operator: attribute === "sum" ? "GT" : "GTE",
    value: attribute === "sum" ? "100" : "1",
    windowValue: "1",
    windowUnit: "hours",
  };
}

export function ruleFromApi(r: ApiRule, key = newKey("rule")): RuleDraft {
  const hours = r.windowMinutes % 60 === 0;
  return {
    key,
    eventType: r.eventType,
    attribute: r.attribute,
    field: r.field ?? "",
    operator: r.operator,
    value: String(r.value),
    windowValue: String(hours ? r.windowMinutes / 60 : r.windowMinutes),
    windowUnit: hours ? "hours" : "minutes",
  };
}

const toNumber = (s: string): number | undefined => {
  const t = s.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isNaN(n) ? Number.NaN : n;
};

/** The rule as the API takes it (invalid values pass through for the schema to name). */
export function ruleToInput(d: RuleDraft) {
  const w = toNumber(d.windowValue);
  return {
    eventType: d.eventType,
    attribute: d.attribute,
    ...(d.attribute === "sum" ? { field: d.field.trim() || undefined } : {}),
    operator: d.operator,
    value: toNumber(d.value),
    windowMinutes: w === undefined || Number.isNaN(w) ? w : d.windowUnit === "hours" ? w * 60 : w,
  };
}

// ---- derived: the group tree ------------------------------------------------------------

export type ExprItem =
  | { kind: "segment"; key: string; segmentId: string; negated: boolean }
  | { kind: "group"; key: string; op: "AND" | "OR"; negated: boolean; children: ExprItem[] };
export type ExprGroup = Extract<ExprItem, { kind: "group" }>;

export const emptyRoot = (): ExprGroup => ({ kind: "group", key: "root", op: "AND", negated: false, children: [] });

const not = (n: ExprNode, negated: boolean): ExprNode => (negated ? { type: "not", operand: n } : n);

/** The tree as an expression node; null when a group (or the whole) is empty. */
export function treeToNode(item: ExprItem): ExprNode | null {
  if (item.kind === "segment") return not({ type: "segment", id: item.segmentId }, item.negated);
  const operands = item.children.map(treeToNode).filter((n): n is ExprNode => n !== null);
  if (operands.length === 0) return null;
  const inner: ExprNode = operands.length === 1 ? operands[0]! : { type: item.op === "AND" ? "and" : "or", operands };
  return not(inner, item.negated);
}

/** Expression node → tree; the root is always a group. `key` makes keys (deterministic ones for the first render). */
export function nodeToTree(node: ExprNode, key: (prefix: string) => string = newKey): ExprGroup {
  const build = (n: ExprNode, negated: boolean): ExprItem => {
    switch (n.type) {
      case "segment":
        return { kind: "segment", key: key("seg"), segmentId: n.id, negated };
      case "not":
        return build(n.operand, !negated);
      case "and":
      case "or":
        return { kind: "group", key: key("grp"), op: n.type === "and" ? "AND" : "OR", negated, children: n.operands.map((o) => build(o, false)) };
    }
  };
  const top = build(node, false);
  if (top.kind === "group" && !top.negated) return { ...top, key: "root" };
  return { ...emptyRoot(), children: [top] };
}

export const treeToText = (root: ExprGroup): string => {
  const node = treeToNode(root);
  return node ? formatExpression(node) : "";
};

export type TextParse = { ok: true; tree: ExprGroup; node: ExprNode } | { ok: false; message: string; position: number };

export function parseText(text: string, key: (prefix: string) => string = newKey): TextParse {
  if (text.trim() === "") return { ok: false, message: "is empty: drag segments into the group or type an expression", position: 0 };
  try {
    const node = parseExpression(text);
    return { ok: true, tree: nodeToTree(node, key), node };
  } catch (e) {
    if (e instanceof ExpressionError) return { ok: false, message: e.message, position: e.position };
    throw e;
  }
}

/** Immutable edits of the tree by key. */
export function mapTree(item: ExprItem, key: string, fn: (i: ExprItem) => ExprItem | null): ExprItem | null {
  if (item.key === key) return fn(item);
  if (item.kind === "segment") return item;
  const children = item.children.map((c) => mapTree(c, key, fn)).filter((c): c is ExprItem => c !== null);
  return { ...item, children };
}

export function findItem(item: ExprItem, key: string): ExprItem | null {
  if (item.key === key) return item;
  if (item.kind === "group") for (const c of item.children) {
    const f = findItem(c, key);
    if (f) return f;
  }
  return null;
}

/** Moves `key` to the end of group `groupKey` (not into itself or its own descendants). */
export function moveItem(root: ExprGroup, key: string, groupKey: string): ExprGroup {
  const moving = findItem(root, key);
  if (!moving || key === "root" || findItem(moving, groupKey)) return root;
  const without = mapTree(root, key, () => null) as ExprGroup;
  return mapTree(without, groupKey, (g) => (g.kind === "group" ? { ...g, children: [...g.children, moving] } : g)) as ExprGroup;
}

export function addToGroup(root: ExprGroup, groupKey: string, item: ExprItem): ExprGroup {
  return mapTree(root, groupKey, (g) => (g.kind === "group" ? { ...g, children: [...g.children, item] } : g)) as ExprGroup;
}

export interface ExpressionProblem {
  message: string;
  /** Ids the text names that are not live segments. */
  unknownIds: string[];
  cycle: string[] | null;
}

/**
 * Problems the server would refuse, found as the user types: unknown ids, a self-reference and
 * a cycle through the segments' current dependencies (`graph`: derived segment → references).
 */
export function checkReferences(node: ExprNode, known: ReadonlySet<string>, selfId: string | null, graph: ReadonlyMap<string, readonly string[]>): ExpressionProblem | null {
  const refs = referencedSegments(node);
  const unknownIds = refs.filter((id) => !known.has(id.toLowerCase()));
  if (unknownIds.length > 0) return { message: `unknown segment id(s): ${unknownIds.join(", ")}`, unknownIds, cycle: null };
  if (selfId) {
    if (refs.includes(selfId)) return { message: "a segment cannot reference itself", unknownIds: [], cycle: [selfId, selfId] };
    const g = new Map(graph);
    g.delete(selfId);
    const cycle = findCycle(selfId, refs, g);
    if (cycle) return { message: `would create a cycle: ${cycle.join(" → ")}`, unknownIds: [], cycle };
  }
  return null;
}

// ---- the whole definition ---------------------------------------------------------------

export interface BuilderState {
  name: string;
  description: string;
  type: "INDEPENDENT" | "DERIVED";
  active: boolean;
  rules: RuleDraft[];
  expressionText: string;
}

export function bodyOf(s: BuilderState) {
  const base = { name: s.name, description: s.description.trim() === "" ? null : s.description, active: s.active };
  return s.type === "INDEPENDENT"
    ? { ...base, type: "INDEPENDENT" as const, rules: s.rules.map(ruleToInput) }
    : { ...base, type: "DERIVED" as const, logicalExpression: s.expressionText };
}

/** Field path (as the server names it: `rules[1].windowMinutes`) → message, from the shared schema. */
export function validate(s: BuilderState): Record<string, string> {
  const r = createSegmentSchema.safeParse(bodyOf(s));
  const out: Record<string, string> = {};
  if (r.success) return out;
  for (const issue of r.error.issues) {
    const path = issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join("");
    out[path || "body"] ??= issue.message;
  }
  return out;
}
