import { describe, expect, it } from "vitest";
import {
  addToGroup,
  bodyOf,
  checkReferences,
  emptyRoot,
  moveItem,
  nodeToTree,
  parseText,
  ruleFromApi,
  ruleFromPalette,
  ruleToInput,
  treeToText,
  validate,
  type BuilderState,
  type ExprGroup,
} from "./model";

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";
const C = "cccccccc-0000-4000-8000-000000000003";

const state = (over: Partial<BuilderState>): BuilderState => ({
  name: "S",
  description: "",
  type: "INDEPENDENT",
  active: true,
  rules: [],
  expressionText: "",
  ...over,
});

describe("rule drafts", () => {
  it("round-trip through the API's rule, windows in hours when they divide", () => {
    const d = ruleFromApi({ eventType: "orders", attribute: "sum", field: "value", operator: "GT", value: 100, windowMinutes: 120 });
    expect(d).toMatchObject({ windowValue: "2", windowUnit: "hours", field: "value" });
    expect(ruleToInput(d)).toEqual({ eventType: "orders", attribute: "sum", field: "value", operator: "GT", value: 100, windowMinutes: 120 });
    expect(ruleFromApi({ eventType: "clicks", attribute: "count", field: null, operator: "GTE", value: 3, windowMinutes: 90 })).toMatchObject({
      windowValue: "90",
      windowUnit: "minutes",
    });
  });

  it("name invalid fields with the server's paths and messages", () => {
    const bad = { ...ruleFromPalette("clicks"), windowValue: "30", windowUnit: "hours" as const };
    const blank = { ...ruleFromPalette("orders", "sum"), value: "" };
    const errors = validate(state({ name: "", rules: [ruleFromPalette("clicks"), bad, blank] }));
    expect(errors).toEqual({
      name: "must not be empty",
      "rules[1].windowMinutes": "must be at most 1440",
      "rules[2].value": "is required",
    });
    expect(validate(state({ rules: [] }))).toEqual({ rules: "an independent segment needs at least one rule" });
    expect(validate(state({ rules: [ruleFromPalette("addToCart")] }))).toEqual({});
  });
});

describe("expression tree", () => {
  it("text → tree → text keeps the meaning, NOT and nesting included", () => {
    for (const text of [`${A}`, `${A} AND NOT ${B}`, `(${A} OR ${B}) AND NOT (${C} OR ${A})`, `NOT (${A} AND ${B})`, `${A} OR ${B} AND ${C}`]) {
      const parsed = parseText(text);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      expect(parseText(treeToText(parsed.tree))).toMatchObject({ ok: true, node: parsed.node });
    }
  });

  it("drops empty groups, collapses single-child groups and moves items between groups", () => {
    let root: ExprGroup = emptyRoot();
    root = addToGroup(root, "root", { kind: "segment", key: "a", segmentId: A, negated: false });
    root = addToGroup(root, "root", { kind: "group", key: "g", op: "OR", negated: true, children: [] });
    expect(treeToText(root)).toBe(A);
    root = addToGroup(root, "g", { kind: "segment", key: "b", segmentId: B, negated: false });
    root = addToGroup(root, "g", { kind: "segment", key: "c", segmentId: C, negated: false });
    expect(treeToText(root)).toBe(`${A} AND NOT (${B} OR ${C})`);
    root = moveItem(root, "a", "g");
    expect(treeToText(root)).toBe(`NOT (${B} OR ${C} OR ${A})`);
    expect(moveItem(root, "g", "g")).toBe(root); // not into itself
    // A negated top-level item sits in an AND root of its own.
    expect(nodeToTree({ type: "not", operand: { type: "segment", id: A } }).children).toEqual([
      expect.objectContaining({ kind: "segment", segmentId: A, negated: true }),
    ]);
  });

  it("reports syntax errors with their position, and unknown ids, self-references and cycles", () => {
    expect(parseText(`${A} AND`)).toMatchObject({ ok: false, position: A.length + 4 });
    const known = new Set([A, B]);
    const node = (t: string) => {
      const p = parseText(t);
      if (!p.ok) throw new Error(p.message);
      return p.node;
    };
    expect(checkReferences(node(`${A} OR ${C}`), known, null, new Map())?.unknownIds).toEqual([C]);
    expect(checkReferences(node(`${A}`), known, A, new Map())?.message).toMatch(/itself/);
    // B is derived from A: making A reference B closes a cycle.
    expect(checkReferences(node(`${B}`), known, A, new Map([[B, [A]]]))?.cycle).toEqual([A, B, A]);
    expect(checkReferences(node(`${B}`), known, null, new Map([[B, [A]]]))).toBeNull();
  });

  it("the derived body carries the text as typed", () => {
    expect(bodyOf(state({ type: "DERIVED", expressionText: `${A} AND ${B}` }))).toMatchObject({ type: "DERIVED", logicalExpression: `${A} AND ${B}` });
    expect(validate(state({ type: "DERIVED", expressionText: "" }))).toEqual({ logicalExpression: "must not be empty" });
  });
});
