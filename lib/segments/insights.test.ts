import { describe, expect, it } from "vitest";
import { activitySeries, batchActivityQuerySchema, estimateSegmentSchema } from "./insights";

const HOUR = 3_600_000;

describe("activitySeries", () => {
  it("reconstructs members per hour backwards from the current count", () => {
    const now = Date.UTC(2026, 10, 24, 12, 30);
    const h = (back: number) => Math.floor(now / HOUR) * HOUR - back * HOUR;
    const points = activitySeries(5, [
      { hourMs: h(0), entries: 2, exits: 1 },
      { hourMs: h(2), entries: 4, exits: 0 },
    ], 4, now);
    expect(points.map((p) => p.at)).toEqual([h(3), h(2), h(1), h(0)].map((x) => new Date(x).toISOString()));
    // now 5; before this hour 5 - 2 + 1 = 4; hour -1 had nothing → 4; before hour -2: 4 - 4 = 0
    expect(points.map((p) => p.members)).toEqual([0, 4, 4, 5]);
    expect(points.map((p) => p.entries)).toEqual([0, 4, 0, 2]);
    expect(points.map((p) => p.exits)).toEqual([0, 0, 0, 1]);
  });

  it("never reports a negative member count when history and the store disagree", () => {
    const now = Date.UTC(2026, 10, 24, 12, 0);
    const points = activitySeries(0, [{ hourMs: Math.floor(now / HOUR) * HOUR, entries: 3, exits: 0 }], 2, now);
    expect(points.map((p) => p.members)).toEqual([0, 0]);
  });
});

describe("insight inputs", () => {
  it("estimate takes a builder's definition and infers its type; names are not required", () => {
    const r = estimateSegmentSchema.parse({
      name: "",
      rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 5 }],
    });
    expect(r.type).toBe("INDEPENDENT");
    const bad = estimateSegmentSchema.safeParse({ rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 0 }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["rules", 0, "windowMinutes"]);
  });

  it("batched stats take up to 100 distinct ids", () => {
    const id = "6f1c2a3b-0000-4000-8000-000000000001";
    expect(batchActivityQuerySchema.parse({ ids: `${id}, ${id.toUpperCase()}` }).ids).toEqual([id]);
    expect(batchActivityQuerySchema.safeParse({ ids: "nope" }).success).toBe(false);
    expect(batchActivityQuerySchema.safeParse({ ids: Array.from({ length: 101 }, (_, i) => id.slice(0, -3) + String(i).padStart(3, "0")).join(",") }).success).toBe(false);
  });
});
