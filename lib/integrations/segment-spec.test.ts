import { describe, expect, it } from "vitest";
import {
  DEFAULT_SEGMENT_EVENT_MAP,
  effectiveEventMap,
  eventTime,
  mapIdentify,
  mapTrack,
  parseSegmentBatch,
  parseSegmentMessage,
  segmentBatchSchema,
  segmentEventMapSchema,
} from "./segment-spec";

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const map = effectiveEventMap(undefined, new Map());

function track(input: Record<string, unknown>) {
  const r = parseSegmentMessage({ type: "track", ...input }, "track");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  if (r.message.type !== "track") throw new Error("not a track");
  return r.message;
}

describe("Segment track → event", () => {
  it("maps a spec event name, properties to attributes and revenue to value", () => {
    const m = track({ userId: "u1", event: "Order Completed", properties: { revenue: 42.5, orderId: "o-1" }, timestamp: "2026-11-24T11:59:00.000Z", context: { device: { id: "dev-9" } } });
    expect(mapTrack(m, map, NOW)).toEqual({
      kind: "event",
      event: { userId: "u1", eventType: "orders", timestamp: "2026-11-24T11:59:00.000Z", attributes: { revenue: 42.5, orderId: "o-1", value: 42.5 }, deviceId: "dev-9" },
    });
  });

  it("keeps an explicit numeric value over revenue", () => {
    const m = track({ userId: "u1", event: "Order Completed", properties: { revenue: 10, value: 3 } });
    expect(mapTrack(m, map, NOW)).toMatchObject({ event: { attributes: { revenue: 10, value: 3 } } });
  });

  it("uses anonymousId when there is no userId, and now when there is no time", () => {
    const m = track({ anonymousId: "anon-1", event: "Product Added" });
    expect(mapTrack(m, map, NOW)).toEqual({ kind: "event", event: { userId: "anon-1", eventType: "addToCart", timestamp: NOW, attributes: {} } });
  });

  it("reports an event no mapping names as unmapped", () => {
    const m = track({ userId: "u1", event: "Signed Up", properties: { plan: "pro" } });
    expect(mapTrack(m, map, NOW)).toEqual({ kind: "unmapped", name: "Signed Up", userId: "u1", properties: { plan: "pro" } });
  });

  it("corrects originalTimestamp for the client's clock skew with sentAt", () => {
    // The client's clock is 10 minutes ahead: it sent 2 s after the event, by its own clock.
    expect(eventTime({ originalTimestamp: "2026-11-24T12:09:58Z", sentAt: "2026-11-24T12:10:00Z" }, NOW)).toBe(NOW - 2_000);
    expect(eventTime({ timestamp: "2026-11-24T11:00:00Z", originalTimestamp: "x" }, NOW)).toBe("2026-11-24T11:00:00Z");
  });

  it("requires an event name and a user", () => {
    const r = parseSegmentMessage({ type: "track", properties: {} }, "track");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.field).sort()).toEqual(["event", "userId"]);
    const wrongType = parseSegmentMessage({ type: "identify", userId: "u" }, "track", []);
    expect(wrongType.ok).toBe(false);
  });
});

describe("event mapping", () => {
  it("our own names map to themselves; the configured map replaces the spec defaults; stored ones win", () => {
    const m = effectiveEventMap({ "Checkout Done": "orders" }, new Map([["Tapped", "clicks" as const]]));
    expect(m.get("orders")).toBe("orders");
    expect(m.get("Checkout Done")).toBe("orders");
    expect(m.get("Order Completed")).toBeUndefined();
    expect(m.get("Tapped")).toBe("clicks");
    expect(effectiveEventMap(undefined, new Map()).get("Order Completed")).toBe(DEFAULT_SEGMENT_EVENT_MAP["Order Completed"]);
  });

  it("validates SEGMENT_EVENT_MAP", () => {
    expect(segmentEventMapSchema.safeParse({ "Order Completed": "orders" }).success).toBe(true);
    expect(segmentEventMapSchema.safeParse({ "Order Completed": "purchases" }).success).toBe(false);
    expect(segmentEventMapSchema.safeParse(["orders"]).success).toBe(false);
  });
});

describe("identify → profile traits", () => {
  it("takes a valid email and a compacted E.164 phone; the rest goes to attributes", () => {
    const r = parseSegmentMessage({ type: "identify", userId: "u1", traits: { email: "a@example.com", phone: "+49 151 1234-5678", name: "Ada", timezone: "Europe/Berlin" } }, "identify");
    if (!r.ok || r.message.type !== "identify") throw new Error("invalid");
    expect(mapIdentify(r.message)).toEqual({ userId: "u1", email: "a@example.com", phone: "+4915112345678", timezone: "Europe/Berlin", attributes: { name: "Ada" } });
  });

  it("keeps a contact point it cannot use in the attributes", () => {
    const r = parseSegmentMessage({ type: "identify", userId: "u1", traits: { email: "not-an-email", phone: "0151 123", timezone: "Mars/Olympus" } }, "identify");
    if (!r.ok || r.message.type !== "identify") throw new Error("invalid");
    expect(mapIdentify(r.message)).toEqual({ userId: "u1", attributes: { email: "not-an-email", phone: "0151 123", timezone: "Mars/Olympus" } });
  });
});

describe("batch", () => {
  it("validates each message, merges the batch context and sentAt, and names the bad ones", () => {
    const batch = segmentBatchSchema.parse({
      batch: [
        { type: "track", userId: "u1", event: "Order Completed" },
        { type: "track", userId: "u2" },
        { type: "rocket", userId: "u3" },
        { type: "page", userId: "u4", name: "Home", context: { ip: "1.2.3.4" } },
      ],
      context: { library: { name: "test" } },
      sentAt: "2026-11-24T12:00:00Z",
    });
    const parsed = parseSegmentBatch(batch);
    expect(parsed.messages.map((m) => m.index)).toEqual([0, 3]);
    expect(parsed.messages[1]!.message).toMatchObject({ type: "page", context: { library: { name: "test" }, ip: "1.2.3.4" }, sentAt: "2026-11-24T12:00:00Z" });
    expect(parsed.issues).toEqual([
      { field: "batch[1].event", reason: "is required" },
      { field: "batch[2].type", reason: "must be one of track, identify, page, screen, group, alias" },
    ]);
  });
});
