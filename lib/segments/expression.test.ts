import { describe, expect, it } from "vitest";
import {
  ExpressionError,
  evaluateExpression,
  findCycle,
  formatExpression,
  parseExpression,
  referencedSegments,
} from "./expression";

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";
const C = "cccccccc-0000-4000-8000-000000000003";

function errorAt(text: string): ExpressionError {
  try {
    parseExpression(text);
  } catch (e) {
    if (e instanceof ExpressionError) return e;
    throw e;
  }
  throw new Error(`expected '${text}' to fail`);
}

describe("parseExpression", () => {
  it("parses a single id", () => {
    expect(parseExpression(A)).toEqual({ type: "segment", id: A });
  });

  it("gives AND precedence over OR", () => {
    expect(parseExpression(`${A} OR ${B} AND ${C}`)).toEqual({
      type: "or",
      operands: [{ type: "segment", id: A }, { type: "and", operands: [{ type: "segment", id: B }, { type: "segment", id: C }] }],
    });
  });

  it("gives NOT precedence over AND", () => {
    expect(parseExpression(`NOT ${A} AND ${B}`)).toEqual({
      type: "and",
      operands: [{ type: "not", operand: { type: "segment", id: A } }, { type: "segment", id: B }],
    });
  });

  it("lets parentheses override precedence", () => {
    expect(parseExpression(`(${A} OR ${B}) AND ${C}`)).toEqual({
      type: "and",
      operands: [{ type: "or", operands: [{ type: "segment", id: A }, { type: "segment", id: B }] }, { type: "segment", id: C }],
    });
  });

  it("flattens chains of the same operator and accepts any keyword case", () => {
    expect(parseExpression(`${A} and ${B} And ${C}`)).toEqual({
      type: "and",
      operands: [A, B, C].map((id) => ({ type: "segment", id })),
    });
  });

  it("parses double negation and nested parentheses", () => {
    expect(parseExpression(`NOT NOT ((${A}))`)).toEqual({
      type: "not",
      operand: { type: "not", operand: { type: "segment", id: A } },
    });
  });

  it.each([
    ["", "expected a segment id"],
    ["   ", "expected a segment id"],
    [`${A} AND`, "found end of expression"],
    [`AND ${A}`, "found 'AND'"],
    [`(${A} OR ${B}`, "expected ')'"],
    [`${A} OR ${B})`, "unexpected ')'"],
    [`${A} ${B}`, `unexpected '${B}'`],
    [`${A} && ${B}`, "unexpected character '&'"],
    ["()", "found ')'"],
    [`NOT`, "found end of expression"],
    [`${A} OR; DROP TABLE segments`, "unexpected character ';'"],
  ])("rejects %j with a positioned error", (text, message) => {
    const e = errorAt(text);
    expect(e.message).toContain(message);
    expect(e.position).toBeGreaterThanOrEqual(0);
    expect(e.position).toBeLessThanOrEqual(text.length);
  });

  it("points at the offending token", () => {
    expect(errorAt(`${A} OR OR ${B}`).position).toBe(A.length + 4);
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    expect(errorAt("(".repeat(10_000) + A + ")".repeat(10_000)).message).toContain("nests deeper");
    expect(errorAt("NOT ".repeat(10_000) + A).message).toContain("nests deeper");
  });
});

describe("formatExpression", () => {
  it.each([
    [`(${A} OR ${B}) AND NOT ${C}`, `(${A} OR ${B}) AND NOT ${C}`],
    [`((${A}) and (${B}))`, `${A} AND ${B}`],
    [`${A} OR (${B} AND ${C})`, `${A} OR ${B} AND ${C}`],
    [`NOT (${A} OR ${B})`, `NOT (${A} OR ${B})`],
    [`not not ${A}`, `NOT NOT ${A}`],
  ])("prints %j canonically", (input, canonical) => {
    expect(formatExpression(parseExpression(input))).toBe(canonical);
  });

  it("round-trips: the canonical text parses to the same tree", () => {
    const tree = parseExpression(`(${A} OR NOT (${B} AND ${C})) AND (${C} OR ${A})`);
    expect(parseExpression(formatExpression(tree))).toEqual(tree);
  });
});

describe("referencedSegments", () => {
  it("lists distinct ids in order of appearance", () => {
    expect(referencedSegments(parseExpression(`${B} AND (${A} OR NOT ${B}) AND ${C}`))).toEqual([B, A, C]);
  });
});

describe("evaluateExpression", () => {
  const tree = parseExpression(`(${A} AND ${B}) OR NOT ${C}`);
  it.each([
    [[A, B, C], true],
    [[A, C], false],
    [[], true],
    [[C], false],
    [[A, B], true],
  ])("with members %j gives %s", (members, expected) => {
    expect(evaluateExpression(tree, (id) => members.includes(id))).toBe(expected);
  });
});

describe("findCycle", () => {
  it("finds nothing in a DAG", () => {
    const graph = new Map([[B, [C]]]);
    expect(findCycle(A, [B], graph)).toBeNull();
  });

  it("finds a direct cycle", () => {
    const graph = new Map([[B, [A]]]);
    expect(findCycle(A, [B], graph)).toEqual([A, B, A]);
  });

  it("finds a transitive cycle with its path", () => {
    const graph = new Map([
      [B, [C]],
      [C, [A]],
    ]);
    expect(findCycle(A, [B], graph)).toEqual([A, B, C, A]);
  });

  it("treats a self reference as a cycle", () => {
    expect(findCycle(A, [A], new Map())).toEqual([A, A]);
  });

  it("does not loop forever on an unrelated cycle", () => {
    const graph = new Map([
      [B, [C]],
      [C, [B]],
    ]);
    expect(findCycle(A, [B], graph)).toBeNull();
  });
});
