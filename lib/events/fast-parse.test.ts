import { describe, expect, it } from "vitest";
import { ingestedEventSchema } from "./schema";
import { parseIngestedEvent } from "./fast-parse";

const valid = {
  eventId: "3b241101-e2bb-4255-8caf-4136c566a962",
  userId: "user-1",
  eventType: "orders",
  timestamp: 1_764_000_000_123,
  attributes: { value: 12, nested: { a: [1, 2] } },
  sessionId: "s-1",
  deviceId: "d-1",
  receivedAt: 1_764_000_000_200,
};

/** zod's verdict and output, the reference. */
const reference = (raw: unknown) => {
  const r = ingestedEventSchema.safeParse(raw);
  return r.success ? r.data : null;
};

const values: unknown[] = [
  undefined, null, true, 0, -1, 1.5, NaN, Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, "", "x", "x".repeat(256), "x".repeat(257),
  [], [1], {}, { a: 1 }, "orders", "clicks", "teleports", "ORDERS", "00000000-0000-0000-0000-000000000000",
  "3b241101-e2bb-4255-8caf-4136c566a96", "3b241101-e2bb-9255-8caf-4136c566a962", "3B241101-E2BB-4255-8CAF-4136C566A962",
  "3b241101-e2bb-4255-7caf-4136c566a962", "ffffffff-ffff-ffff-ffff-ffffffffffff",
];

describe("parseIngestedEvent agrees with ingestedEventSchema", () => {
  it("on a valid event, with and without the optional ids and with extra keys", () => {
    const { sessionId: _s, deviceId: _d, ...bare } = valid;
    for (const raw of [valid, bare, { ...valid, extra: 1, kind: "x" }]) {
      expect(parseIngestedEvent(raw)).toEqual(reference(raw));
      expect(parseIngestedEvent(raw)).not.toBeNull();
    }
    expect(parseIngestedEvent({ ...valid, extra: 1 })).not.toHaveProperty("extra");
  });

  it("on every field replaced by every kind of value, or missing", () => {
    let checked = 0;
    for (const key of [...Object.keys(valid), "extra"]) {
      const { [key]: _dropped, ...without } = valid as Record<string, unknown>;
      expect([key, parseIngestedEvent(without)]).toEqual([key, reference(without)]);
      for (const v of values) {
        const raw = { ...valid, [key]: v };
        expect([key, v, parseIngestedEvent(raw)]).toEqual([key, v, reference(raw)]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it("on values that are not objects", () => {
    for (const v of values) expect(parseIngestedEvent(v)).toEqual(reference(v));
  });
});
