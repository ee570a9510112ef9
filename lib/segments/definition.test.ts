import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatPath } from "@/lib/errors";
import { compare, createSegmentSchema, listSegmentsQuerySchema, segmentStatusSchema } from "./definition";

const rule = { eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 };

function issues(input: unknown) {
  const r = createSegmentSchema.safeParse(input);
  if (r.success) throw new Error("expected failure");
  return r.error.issues.map((i) => ({ field: formatPath(i.path), message: i.message }));
}

describe("createSegmentSchema", () => {
  it("accepts an independent segment and fills defaults", () => {
    const out = createSegmentSchema.parse({ type: "INDEPENDENT", name: "  Cart adders ", rules: [rule] });
    expect(out).toEqual({ type: "INDEPENDENT", name: "Cart adders", rules: [{ ...rule, field: null }] });
  });

  it("defaults a sum rule's field to 'value' and keeps a given field", () => {
    const out = createSegmentSchema.parse({
      name: "Big spenders",
      rules: [
        { eventType: "orders", attribute: "sum", operator: "GT", value: 100, windowMinutes: 1440 },
        { eventType: "orders", attribute: "sum", field: "amount", operator: "GT", value: 5, windowMinutes: 60 },
      ],
    });
    expect(out.type).toBe("INDEPENDENT");
    if (out.type !== "INDEPENDENT") throw new Error("unreachable");
    expect(out.rules.map((r) => r.field)).toEqual(["value", "amount"]);
  });

  it("infers DERIVED from logicalExpression", () => {
    expect(createSegmentSchema.parse({ name: "d", logicalExpression: "a AND b" }).type).toBe("DERIVED");
  });

  it.each([
    [{ ...rule, windowMinutes: 0 }, "rules[0].windowMinutes", "at least 1"],
    [{ ...rule, windowMinutes: 1441 }, "rules[0].windowMinutes", "at most 1440"],
    [{ ...rule, windowMinutes: 1.5 }, "rules[0].windowMinutes", "whole number"],
    [{ ...rule, windowMinutes: "60" }, "rules[0].windowMinutes", "must be a number"],
    [{ ...rule, eventType: "purchase" }, "rules[0].eventType", "must be one of clicks, installs, orders, addToCart"],
    [{ ...rule, operator: ">=" }, "rules[0].operator", "must be one of GT"],
    [{ ...rule, attribute: "avg" }, "rules[0].attribute", "must be one of count, sum"],
    [{ ...rule, value: undefined }, "rules[0].value", "is required"],
    [{ ...rule, value: -1 }, "rules[0].value", "never negative"],
    [{ ...rule, value: 1e300 }, "rules[0].value", "at most 1e15"],
    [{ ...rule, field: "amount" }, "rules[0].field", "only a sum rule"],
    [{ ...rule, attribute: "sum", field: "a b" }, "rules[0].field", "attribute name"],
    [{ ...rule, extra: 1 }, "rules[0]", "extra"],
  ])("rejects rule %j at %s", (bad, field, message) => {
    const found = issues({ type: "INDEPENDENT", name: "x", rules: [bad] });
    expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(found.find((i) => i.field === field)?.message ?? "").toMatch(new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  });

  it("requires at least one rule", () => {
    expect(issues({ type: "INDEPENDENT", name: "x", rules: [] })).toEqual([
      { field: "rules", message: "an independent segment needs at least one rule" },
    ]);
  });

  it("rejects an unknown type, a missing name and a blank name", () => {
    expect(issues({ type: "MAGIC", name: "x", rules: [rule] })[0]?.field).toBe("type");
    expect(issues({ type: "INDEPENDENT", rules: [rule] })).toEqual([{ field: "name", message: "is required" }]);
    expect(issues({ type: "INDEPENDENT", name: "   ", rules: [rule] })).toEqual([{ field: "name", message: "must not be empty" }]);
  });

  it("rejects rules on a derived segment and an expression on an independent one", () => {
    expect(issues({ type: "DERIVED", name: "x", logicalExpression: "a", rules: [rule] })[0]?.field).toBe("");
    expect(issues({ type: "INDEPENDENT", name: "x", rules: [rule], logicalExpression: "a" })[0]?.message).toMatch(/logicalExpression/);
  });

  it.each([null, [], "segment", 42])("rejects a non-object body %j", (body) => {
    expect(createSegmentSchema.safeParse(body).success).toBe(false);
  });
});

describe("segmentStatusSchema", () => {
  it("takes a boolean", () => {
    expect(segmentStatusSchema.parse({ active: false })).toEqual({ active: false });
    expect(() => segmentStatusSchema.parse({ active: "false" })).toThrow(z.ZodError);
    expect(() => segmentStatusSchema.parse({})).toThrow(/is required/);
  });
});

describe("listSegmentsQuerySchema", () => {
  it("coerces query strings and applies defaults", () => {
    expect(listSegmentsQuerySchema.parse({ page: "2", active: "false", type: "DERIVED" })).toEqual({
      page: 2,
      pageSize: 20,
      active: false,
      type: "DERIVED",
    });
  });
  it("bounds pageSize", () => {
    expect(listSegmentsQuerySchema.safeParse({ pageSize: "1000" }).success).toBe(false);
    expect(listSegmentsQuerySchema.safeParse({ page: "0" }).success).toBe(false);
  });
});

describe("compare", () => {
  it.each([
    [3, "GT", 2, true],
    [2, "GT", 2, false],
    [2, "GTE", 2, true],
    [1, "LT", 2, true],
    [2, "LT", 2, false],
    [2, "LTE", 2, true],
    [2, "EQ", 2, true],
    [2, "NEQ", 2, false],
    [0, "NEQ", 2, true],
  ] as const)("%d %s %d is %s", (a, op, b, expected) => {
    expect(compare(a, op, b)).toBe(expected);
  });
});
