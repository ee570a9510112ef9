import { describe, expect, it } from "vitest";
import {
  MAX_EVENT_AGE_MS,
  MAX_EVENT_FUTURE_MS,
  checkEventTime,
  eventBatchSchema,
  ingestedEventSchema,
  parseIsoTimestamp,
  parseTimestamp,
  toIngestedEvent,
  userEventSchema,
  validateEvent,
  validateEvents,
} from "./schema";

const NOW = Date.parse("2025-06-01T12:00:00.000Z");
const event = { userId: "user-1", eventType: "addToCart", timestamp: NOW - 60_000, attributes: { sku: "A1" } };

function issues(inputs: unknown[], now = NOW) {
  const r = validateEvents(inputs, now);
  if (r.ok) throw new Error("expected failure");
  return r.issues;
}
const fields = (inputs: unknown[], now = NOW) => issues(inputs, now).map((i) => i.field);

describe("validateEvents: accepted events", () => {
  it("normalizes: trims ids, converts the timestamp to epoch ms, defaults attributes to {}", () => {
    const r = validateEvents(
      [
        { userId: "  u1  ", eventType: "clicks", timestamp: "2025-06-01T11:59:00Z", sessionId: " s ", deviceId: "d" },
        { userId: "u2", eventType: "orders", timestamp: NOW, attributes: { value: 12.5, nested: { a: [1] } } },
      ],
      NOW,
    );
    expect(r).toEqual({
      ok: true,
      events: [
        { userId: "u1", eventType: "clicks", timestamp: NOW - 60_000, attributes: {}, sessionId: "s", deviceId: "d" },
        { userId: "u2", eventType: "orders", timestamp: NOW, attributes: { value: 12.5, nested: { a: [1] } } },
      ],
    });
  });

  it.each(["clicks", "installs", "orders", "addToCart"])("accepts eventType %s", (eventType) => {
    expect(validateEvents([{ ...event, eventType }], NOW).ok).toBe(true);
  });

  it.each([
    ["2025-06-01T12:00:00Z", NOW],
    ["2025-06-01T12:00:00.123Z", NOW + 123],
    ["2025-06-01T12:00:00.123456789Z", NOW + 123],
    ["2025-06-01T12:00Z", NOW],
    ["2025-06-01t12:00:00z", NOW],
    ["2025-06-01T14:00:00+02:00", NOW],
    ["2025-06-01T14:00:00+0200", NOW],
    ["2025-06-01T06:30:00-05:30", NOW],
    [NOW, NOW],
    [NOW + 0.9, NOW],
  ])("reads timestamp %j as epoch ms", (timestamp, expected) => {
    const r = validateEvents([{ ...event, timestamp }], NOW);
    expect(r.ok && r.events[0]!.timestamp).toBe(expected);
  });
});

describe("validateEvents: refused events", () => {
  it.each([
    [{ ...event, userId: undefined }, "events[0].userId", "is required"],
    [{ ...event, userId: "" }, "events[0].userId", "must not be empty"],
    [{ ...event, userId: "   " }, "events[0].userId", "must not be empty"],
    [{ ...event, userId: 42 }, "events[0].userId", "must be a string"],
    [{ ...event, userId: "u".repeat(257) }, "events[0].userId", "at most 256"],
    [{ ...event, eventType: "purchase" }, "events[0].eventType", "must be one of clicks, installs, orders, addToCart"],
    [{ ...event, eventType: undefined }, "events[0].eventType", "is required"],
    [{ ...event, timestamp: undefined }, "events[0].timestamp", "is required"],
    [{ ...event, timestamp: "yesterday" }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: "2025-06-01T12:00:00" }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: "2025-06-01" }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: "2025-02-30T12:00:00Z" }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: "2025-06-01T24:00:00Z" }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: String(NOW) }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: true }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, timestamp: null }, "events[0].timestamp", "ISO-8601"],
    [{ ...event, attributes: [] }, "events[0].attributes", "must be a JSON object"],
    [{ ...event, attributes: null }, "events[0].attributes", "must be a JSON object"],
    [{ ...event, attributes: "sku=A1" }, "events[0].attributes", "must be a JSON object"],
    [{ ...event, sessionId: 7 }, "events[0].sessionId", "must be a string"],
    [{ ...event, deviceId: "d".repeat(257) }, "events[0].deviceId", "at most 256"],
    [{ ...event, extra: 1 }, "events[0].extra", "is not a known field"],
    ["not an event", "events[0]", "must be an event object"],
    [null, "events[0]", "must be an event object"],
    [[event], "events[0]", "must be an event object"],
  ])("refuses %j at %s", (bad, field, reason) => {
    const found = issues([bad]);
    expect(found).toHaveLength(1);
    expect(found[0]!.field).toBe(field);
    expect(found[0]!.reason).toContain(reason);
  });

  it("reports every unknown key at its own path", () => {
    expect(fields([{ ...event, foo: 1, bar: 2 }])).toEqual(["events[0].foo", "events[0].bar"]);
  });
});

describe("the time window [now − 24 h, now + 5 min]", () => {
  it.each([
    [NOW - MAX_EVENT_AGE_MS, true],
    [NOW - MAX_EVENT_AGE_MS - 1, false],
    [NOW + MAX_EVENT_FUTURE_MS, true],
    [NOW + MAX_EVENT_FUTURE_MS + 1, false],
    [NOW, true],
  ])("epoch ms %i is accepted: %s", (timestamp, ok) => {
    expect(validateEvents([{ ...event, timestamp }], NOW).ok).toBe(ok);
  });

  it("applies to ISO strings with their zone", () => {
    expect(validateEvents([{ ...event, timestamp: "2025-05-31T12:00:00Z" }], NOW).ok).toBe(true);
    expect(fields([{ ...event, timestamp: "2025-05-31T11:59:59.999Z" }])).toEqual(["events[0].timestamp"]);
    expect(validateEvents([{ ...event, timestamp: "2025-06-01T14:05:00+02:00" }], NOW).ok).toBe(true);
    expect(issues([{ ...event, timestamp: "2025-06-01T14:05:01+02:00" }])[0]!.reason).toBe("is more than 5 minutes in the future");
  });

  it("is relative to the given now, not the machine's clock", () => {
    const old = Date.parse("2001-01-01T00:00:00Z");
    expect(validateEvents([{ ...event, timestamp: old }], old + 1000).ok).toBe(true);
    expect(validateEvents([{ ...event, timestamp: old }], NOW).ok).toBe(false);
  });

  it("hints at epoch seconds", () => {
    expect(checkEventTime(Math.floor(NOW / 1000), NOW)).toMatch(/epoch seconds/);
    expect(checkEventTime(NOW - 2 * MAX_EVENT_AGE_MS, NOW)).toBe("is more than 24 hours in the past");
  });

  it("is checked even when other fields of the event fail", () => {
    expect(fields([{ userId: "", eventType: "clicks", timestamp: NOW + 3_600_000 }])).toEqual([
      "events[0].userId",
      "events[0].timestamp",
    ]);
  });
});

describe("batches", () => {
  it("lists every failing event by index, in order, and accepts none", () => {
    const batch = [
      event,
      { ...event, timestamp: "garbage" },
      event,
      { ...event, userId: "", attributes: [] },
      { ...event, eventType: "views" },
    ];
    const r = validateEvents(batch, NOW);
    expect(r.ok).toBe(false);
    expect(fields(batch)).toEqual([
      "events[1].timestamp",
      "events[3].userId",
      "events[3].attributes",
      "events[4].eventType",
    ]);
  });

  it("a single event's paths carry no events[i] prefix", () => {
    const r = validateEvent({ ...event, timestamp: NOW - 2 * MAX_EVENT_AGE_MS, bogus: true }, NOW);
    expect(r.ok ? [] : r.issues.map((i) => i.field)).toEqual(["timestamp", "bogus"]);
    const notObject = validateEvent([1, 2], NOW);
    expect(notObject.ok ? [] : notObject.issues).toEqual([{ field: "body", reason: "must be an event object" }]);
  });

  it("eventBatchSchema takes 1 to 1000 events and nothing else", () => {
    const msg = (input: unknown) => eventBatchSchema.safeParse(input).error?.issues.map((i) => [i.path.join("."), i.message]);
    expect(eventBatchSchema.safeParse({ events: [event] }).success).toBe(true);
    expect(eventBatchSchema.safeParse({ events: Array(1000).fill(event) }).success).toBe(true);
    expect(msg({ events: [] })).toEqual([["events", "must contain at least 1 event"]]);
    expect(msg({ events: Array(1001).fill(event) })).toEqual([["events", "must contain at most 1000 events"]]);
    expect(msg({})).toEqual([["events", "is required"]]);
    expect(msg({ events: event })).toEqual([["events", "must be an array of events"]]);
    expect(msg({ events: [event], extra: 1 })?.[0]?.[1]).toContain('"extra"');
    expect(msg([event])).toEqual([["", 'must be an object like {"events": [...]}']]);
  });
});

describe("timestamps", () => {
  it("parses ISO-8601 strictly", () => {
    expect(parseIsoTimestamp("2024-02-29T00:00:00Z")).toBe(Date.parse("2024-02-29T00:00:00Z"));
    expect(parseIsoTimestamp("2023-02-29T00:00:00Z")).toBeUndefined();
    expect(parseIsoTimestamp("2025-13-01T00:00:00Z")).toBeUndefined();
    expect(parseIsoTimestamp("2025-06-01T12:60:00Z")).toBeUndefined();
    expect(parseIsoTimestamp("2025-06-01T12:00:60Z")).toBeUndefined();
    expect(parseIsoTimestamp("2025-06-01T12:00:00+24:00")).toBeUndefined();
    expect(parseIsoTimestamp("0050-01-01T00:00:00Z")).toBe(Date.parse("0050-01-01T00:00:00Z"));
  });

  it("takes finite numbers only", () => {
    expect(parseTimestamp(Number.NaN)).toBeUndefined();
    expect(parseTimestamp(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseTimestamp(" 2025-06-01T12:00:00Z ")).toBe(NOW);
  });
});

describe("ingestedEventSchema", () => {
  it("round-trips an ingested event through JSON and refuses a malformed one", () => {
    const parsed = userEventSchema.parse({ ...event, sessionId: "s1" });
    const ingested = toIngestedEvent(parsed, "0b7f4a8e-3c1d-4c5e-9f2a-1d2e3f4a5b6c", NOW);
    expect(ingestedEventSchema.parse(JSON.parse(JSON.stringify(ingested)))).toEqual({
      eventId: "0b7f4a8e-3c1d-4c5e-9f2a-1d2e3f4a5b6c",
      userId: "user-1",
      eventType: "addToCart",
      timestamp: NOW - 60_000,
      attributes: { sku: "A1" },
      sessionId: "s1",
      receivedAt: NOW,
    });
    expect("deviceId" in ingested).toBe(false);
    expect(ingestedEventSchema.safeParse({ ...ingested, eventId: "nope" }).success).toBe(false);
    expect(ingestedEventSchema.safeParse({ ...ingested, timestamp: "2025-06-01T12:00:00Z" }).success).toBe(false);
    expect(ingestedEventSchema.safeParse({ ...ingested, eventType: "views" }).success).toBe(false);
    expect(ingestedEventSchema.safeParse({ ...ingested, attributes: [] }).success).toBe(false);
  });
});
