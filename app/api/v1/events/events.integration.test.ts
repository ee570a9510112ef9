import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys } from "@/db/schema";
import { ingestedEventSchema, type IngestedEvent } from "@/lib/events/schema";
import { EventLogUnavailableError, type EventLog, type Subscription } from "@/lib/ports/event-log";
import { hashApiKey } from "@/lib/services/auth";
import { installRuntime, uninstallRuntime, type Runtime } from "@/lib/runtime";
import { TOPICS } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import * as batch from "./route";
import * as single from "./single/route";
import * as health from "./health/route";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A controllable clock a week behind the machine's: the routes must measure the window on it. */
function testClock() {
  const clock = { at: Date.now() - 7 * 24 * HOUR, now: () => new Date(clock.at) };
  return clock;
}

/** Delegates to `inner` but refuses every append, as a log that lost its brokers would. */
function refusingLog(inner: EventLog): EventLog & { appends: number } {
  const log = {
    appends: 0,
    ensureTopics: async () => {},
    append: async () => {
      log.appends++;
      throw new EventLogUnavailableError("test: the event log refuses appends");
    },
    subscribe: (options: Parameters<EventLog["subscribe"]>[0]) => inner.subscribe(options),
    close: async () => {},
  };
  return log;
}

describe.each(engineCases)("event ingestion API on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let sub: Subscription;
  const clock = testClock();
  const run = Math.random().toString(36).slice(2, 10);
  const user = (n: string) => `ingest-${run}-${n}`;
  /** Everything this suite's run appended to user-events, by user id (the topic is shared on a real broker). */
  const seen = new Map<string, { event: IngestedEvent; key: string; headers?: Record<string, string> }[]>();
  const eventsOf = (userId: string) => seen.get(userId) ?? [];

  beforeAll(async () => {
    env = await openTestRuntime(engine, { clock });
    installRuntime(env.rt);
    sub = await env.log.subscribe({
      groupId: `test-ingest-${run}`,
      topics: [TOPICS.userEvents],
      // Only what this run appends: on a long-lived broker the topic holds earlier runs' events.
      fromBeginning: false,
      handleBatch: async (b) => {
        for (const m of b.messages) {
          if (!m.key.startsWith(`ingest-${run}-`)) continue;
          const event = ingestedEventSchema.parse(JSON.parse(m.value));
          seen.set(event.userId, [...eventsOf(event.userId), { event, key: m.key, headers: m.headers }]);
        }
      },
    });
  });
  afterAll(async () => {
    await sub?.close();
    uninstallRuntime();
    await env?.close();
  });

  const post = (body: unknown, options: Parameters<typeof call>[2] = {}) => call(batch.POST, "POST", { body, ...options });
  const ev = (userId: string, extra: Record<string, unknown> = {}) => ({
    userId,
    eventType: "addToCart",
    timestamp: clock.at - MINUTE,
    attributes: { sku: "A1" },
    ...extra,
  });

  describe("accepting events", () => {
    it("answers 202 with the count once appended, and the events are on user-events in order", async () => {
      const a = user("batch-a");
      const b = user("batch-b");
      const iso = new Date(clock.at - 2 * MINUTE).toISOString().replace("Z", "+00:00");
      const res = await post(
        {
          events: [
            ev(a, { eventType: "clicks", timestamp: iso, sessionId: "s-1" }),
            ev(b, { eventType: "orders", attributes: { value: 42.5 }, deviceId: "d-9" }),
            { userId: `  ${a}  `, eventType: "installs", timestamp: clock.at },
          ],
        },
        { headers: { "x-request-id": `trace-${run}` } },
      );
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 3 });
      expect(res.headers.get("x-trace-id")).toBe(`trace-${run}`);

      await waitFor("the batch on user-events", () => eventsOf(a).length === 2 && eventsOf(b).length === 1);
      const [first, second] = eventsOf(a);
      expect(first!.event).toEqual({
        eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        userId: a,
        eventType: "clicks",
        timestamp: clock.at - 2 * MINUTE,
        attributes: { sku: "A1" },
        sessionId: "s-1",
        receivedAt: clock.at,
      });
      // Same user, same partition: the order of the batch is kept; ids were trimmed.
      expect(second!.event).toMatchObject({ userId: a, eventType: "installs", timestamp: clock.at, attributes: {} });
      expect(eventsOf(b)[0]!.event).toMatchObject({ eventType: "orders", attributes: { value: 42.5 }, deviceId: "d-9" });
      for (const m of [first!, second!, eventsOf(b)[0]!]) {
        expect(m.key).toBe(m.event.userId);
        expect(m.headers?.["trace-id"]).toBe(`trace-${run}`);
      }
      expect(new Set([first, second, eventsOf(b)[0]].map((m) => m!.event.eventId)).size).toBe(3);
    });

    it("accepts one event on /single", async () => {
      const u = user("single");
      const res = await call(single.POST, "POST", { body: ev(u, { eventType: "orders", attributes: { value: 3 } }) });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 1 });
      await waitFor("the single event", () => eventsOf(u).length === 1);
      expect(eventsOf(u)[0]!.event).toMatchObject({ userId: u, eventType: "orders", attributes: { value: 3 } });
    });

    it("accepts a full batch of 1,000 events", async () => {
      const u = user("thousand");
      const res = await post({ events: Array.from({ length: 1000 }, (_, i) => ev(u, { attributes: { i } })) });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 1000 });
      await waitFor("1,000 events", () => eventsOf(u).length === 1000);
      expect(eventsOf(u).map((m) => m.event.attributes.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    });

    it("accepts a body just under the 1 MB limit for a single user", async () => {
      const u = user("megabyte");
      const events = Array.from({ length: 1000 }, (_, i) => ev(u, { attributes: { i, blob: "x".repeat(900) } }));
      const raw = JSON.stringify({ events });
      expect(raw.length).toBeGreaterThan(950_000);
      expect(raw.length).toBeLessThan(1_048_576);
      const res = await call(batch.POST, "POST", { rawBody: raw });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 1000 });
      await waitFor("1 MB of events", () => eventsOf(u).length === 1000);
      expect(eventsOf(u).at(-1)!.event.attributes.i).toBe(999);
    });
  });

  describe("validation", () => {
    it("answers 400 naming every failing event, and appends none of the batch", async () => {
      const good1 = user("aon-good-1");
      const good2 = user("aon-good-2");
      const res = await post({
        events: [
          ev(good1),
          ev(user("aon-bad-ts"), { timestamp: "last tuesday" }),
          ev(good2),
          ev("", { eventType: "views" }),
          ev(user("aon-bad-attrs"), { attributes: [1, 2] }),
        ],
      });
      expect(res.status).toBe(400);
      expectSeedError(res.body, "VALIDATION_ERROR", "events[1].timestamp");
      expect(res.body.error.details.reason).toMatch(/ISO-8601/);
      expect(res.body.error.details.errors.map((e: { field: string }) => e.field)).toEqual([
        "events[1].timestamp",
        "events[3].userId",
        "events[3].eventType",
        "events[4].attributes",
      ]);
      expect(res.body.error.message).toContain("3 of 5");

      // A sentinel sent afterwards arrives; the refused batch's good events never do.
      const sentinel = user("aon-sentinel");
      expect((await post({ events: [ev(sentinel)] })).status).toBe(202);
      await waitFor("the sentinel", () => eventsOf(sentinel).length === 1);
      await sleep(500);
      expect([good1, good2, user("aon-bad-ts"), user("aon-bad-attrs")].flatMap(eventsOf)).toEqual([]);
    });

    it("measures the 24 h / 5 min window on the runtime's clock", async () => {
      const u = user("window");
      const at = (timestamp: number) => post({ events: [ev(u, { timestamp })] });
      expect((await at(clock.at - 24 * HOUR)).status).toBe(202);
      expect((await at(clock.at + 5 * MINUTE)).status).toBe(202);
      const old = await at(clock.at - 24 * HOUR - 1);
      expect(old.status).toBe(400);
      expectSeedError(old.body, "VALIDATION_ERROR", "events[0].timestamp");
      expect(old.body.error.details.reason).toMatch(/24 hours/);
      // The machine's clock is a week ahead of the runtime's: "now" there is the future here.
      const real = await call(single.POST, "POST", { body: ev(u, { timestamp: Date.now() }) });
      expect(real.status).toBe(400);
      expectSeedError(real.body, "VALIDATION_ERROR", "timestamp");
      expect(real.body.error.details.reason).toMatch(/5 minutes in the future/);
    });

    it("refuses unknown fields, an empty or oversized batch, and a bad single event", async () => {
      const unknown = await post({ events: [ev(user("strict"), { referrer: "x" })] });
      expect(unknown.status).toBe(400);
      expectSeedError(unknown.body, "VALIDATION_ERROR", "events[0].referrer");

      const empty = await post({ events: [] });
      expect(empty.status).toBe(400);
      expectSeedError(empty.body, "VALIDATION_ERROR", "events");
      const tooMany = await post({ events: Array.from({ length: 1001 }, () => ev(user("too-many"))) });
      expect(tooMany.status).toBe(400);
      expectSeedError(tooMany.body, "VALIDATION_ERROR", "events");
      expect(tooMany.body.error.details.reason).toMatch(/at most 1000/);
      const missing = await post({ event: ev(user("no-envelope")) });
      expect(missing.status).toBe(400);
      expect(missing.body.error.details.errors.map((e: { field: string }) => e.field)).toContain("events");

      const bad = await call(single.POST, "POST", { body: { eventType: "orders", timestamp: clock.at, attributes: "x" } });
      expect(bad.status).toBe(400);
      expectSeedError(bad.body, "VALIDATION_ERROR", "userId");
      expect(bad.body.error.details.errors.map((e: { field: string }) => e.field)).toEqual(["userId", "attributes"]);
      const notAnObject = await call(single.POST, "POST", { body: [ev(user("array"))] });
      expect(notAnObject.status).toBe(400);
      expectSeedError(notAnObject.body, "VALIDATION_ERROR", "body");
    });

    it("answers 400 for malformed JSON, 415 for a wrong content type and 413 for an oversized body", async () => {
      const bad = await call(batch.POST, "POST", { rawBody: '{"events": [' });
      expect(bad.status).toBe(400);
      expectSeedError(bad.body, "INVALID_JSON", "body");
      const badSingle = await call(single.POST, "POST", { rawBody: "{userId: x}" });
      expect(badSingle.status).toBe(400);
      expectSeedError(badSingle.body, "INVALID_JSON", "body");
      const text = await call(batch.POST, "POST", { rawBody: "userId=x", headers: { "content-type": "text/plain" } });
      expect(text.status).toBe(415);
      expectSeedError(text.body, "UNSUPPORTED_MEDIA_TYPE");
      const noType = await call(single.POST, "POST", { rawBody: "{}", headers: { "content-type": "" } });
      expect(noType.status).toBe(415);
      const huge = await post({ events: [ev(user("huge"), { attributes: { blob: "x".repeat(1_100_000) } })] });
      expect(huge.status).toBe(413);
      expectSeedError(huge.body, "PAYLOAD_TOO_LARGE");
      expect(eventsOf(user("huge"))).toEqual([]);
    });
  });

  describe("authentication", () => {
    it("answers 401 without a key or with a wrong one", async () => {
      const none = await post({ events: [ev(user("anon"))] }, { key: null });
      expect(none.status).toBe(401);
      expectSeedError(none.body, "UNAUTHORIZED", "Authorization");
      expect((await call(single.POST, "POST", { key: null, body: ev(user("anon")) })).status).toBe(401);
      expect((await post({ events: [ev(user("anon"))] }, { key: "not-the-key-at-all" })).status).toBe(401);
    });

    it("answers 403 for a read-only key and 202 for an ingest key", async () => {
      const reader = `am_read_${run}_0123456789`;
      const ingester = `am_ingest_${run}_0123456789`;
      await env.db.db.insert(apiKeys).values([
        { name: "reader", keyHash: hashApiKey(reader), prefix: reader.slice(0, 8), scopes: ["read"], createdBy: "test" },
        { name: "ingester", keyHash: hashApiKey(ingester), prefix: ingester.slice(0, 8), scopes: ["ingest"], createdBy: "test" },
      ]);
      const denied = await post({ events: [ev(user("scoped"))] }, { key: reader });
      expect(denied.status).toBe(403);
      expectSeedError(denied.body, "FORBIDDEN");
      expect((await call(single.POST, "POST", { key: reader, body: ev(user("scoped")) })).status).toBe(403);
      expect((await post({ events: [ev(user("scoped"))] }, { key: ingester })).status).toBe(202);
      expect((await call(single.POST, "POST", { key: ingester, body: ev(user("scoped")) })).status).toBe(202);
      await waitFor("the ingest key's events", () => eventsOf(user("scoped")).length === 2);
    });
  });

  describe("health and an unavailable log", () => {
    it("answers 200 on /health without a key", async () => {
      expect((await call(single.POST, "POST", { body: ev(user("before-health")) })).status).toBe(202);
      const res = await call(health.GET, "GET", { key: null });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: "ok",
        eventLog: expect.stringMatching(/^(kafka|local)$/),
        lastAppend: { ok: true, at: new Date(clock.at).toISOString() },
        // The last append succeeded a moment ago (on the runtime's clock): no probe was needed.
        checkedAt: null,
      });
      expect(res.headers.get("cache-control")).toBe("no-store");
    });

    // The runtime's parts but the event log (and clock): no second relay or processor to manage.
    const withLog = (eventLog: EventLog, extra: Partial<Runtime> = {}): Runtime => ({ ...env.rt, eventLog, ...extra });

    describe("when appends fail", () => {
      let log: ReturnType<typeof refusingLog>;
      const down = testClock();

      beforeAll(() => {
        log = refusingLog(env.log);
        installRuntime(withLog(log, { clock: down }));
      });
      afterAll(() => installRuntime(env.rt));

      it("answers 503 SERVICE_UNAVAILABLE with Retry-After, and /health follows", async () => {
        // Nothing appended yet: the probe (ensureTopics) answers.
        expect((await call(health.GET, "GET", { key: null })).status).toBe(200);

        const res = await post({ events: [ev(user("down-1")), ev(user("down-2"))].map((e) => ({ ...e, timestamp: down.at })) });
        expect(res.status).toBe(503);
        expectSeedError(res.body, "SERVICE_UNAVAILABLE");
        expect(res.headers.get("retry-after")).toBe("1");
        expect(log.appends).toBe(1);
        const one = await call(single.POST, "POST", { body: { ...ev(user("down-3")), timestamp: down.at } });
        expect(one.status).toBe(503);
        expect(one.headers.get("retry-after")).toBe("1");

        const sick = await call(health.GET, "GET", { key: null });
        expect(sick.status).toBe(503);
        expectSeedError(sick.body, "SERVICE_UNAVAILABLE", "eventLog");
        expect(sick.headers.get("retry-after")).toBe("1");
        expect(sick.body.error.details).toMatchObject({ lastAppend: { ok: false } });
        expect(JSON.stringify(sick.body)).not.toContain("test: the event log");

        // Without traffic, health recovers once a probe succeeds.
        down.at += 6_000;
        expect((await call(health.GET, "GET", { key: null })).status).toBe(200);
      });
    });

    describe("with an unreachable Kafka broker", () => {
      let kafka: EventLog;

      beforeAll(async () => {
        const { KafkaEventLog } = await import("@/lib/adapters/event-log/kafka");
        kafka = new KafkaEventLog({
          brokers: ["127.0.0.1:1"],
          clientId: `am-test-unreachable-${run}`,
          connectionTimeoutMs: 500,
          appendTimeoutMs: 1500,
          log: () => {},
        });
        installRuntime(withLog(kafka, { env: { ...env.rt.env, KAFKA_BROKERS: ["127.0.0.1:1"] } }));
      });
      afterAll(async () => {
        installRuntime(env.rt);
        await kafka?.close();
      });

      it("answers 503 with Retry-After on ingest and on /health, naming no host", async () => {
        const res = await post({ events: [ev(user("unreachable"))] });
        expect(res.status).toBe(503);
        expectSeedError(res.body, "SERVICE_UNAVAILABLE");
        expect(res.headers.get("retry-after")).toBe("1");
        const sick = await call(health.GET, "GET", { key: null });
        expect(sick.status).toBe(503);
        expect(sick.body.error.details.eventLog).toBe("kafka");
        expect(JSON.stringify(sick.body)).not.toContain("127.0.0.1");
      });
    });
  });
});
