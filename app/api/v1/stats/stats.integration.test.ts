/**
 * The dashboard's overview and a user's recent events, from real pipeline output: events in over
 * REST → the segment processor → archive, history, memberships → GET /api/v1/stats/overview.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as events from "@/app/api/v1/events/route";
import * as userEvents from "@/app/api/v1/users/[userId]/events/route";
import * as overview from "./overview/route";
import * as users from "@/app/api/v1/users/route";

describe.each(engineCases)("dashboard overview and user events on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);
  let clickers: string;
  let buyers: string;

  beforeAll(async () => {
    env = await openTestRuntime(engine, { workers: true });
    installRuntime(env.rt);
    const rule = (eventType: string, value: number) => ({ eventType, attribute: "count", operator: "GTE", value, windowMinutes: 60 });
    clickers = (await call(segmentsRoute.POST, "POST", { body: { name: `clickers ${run}`, rules: [rule("clicks", 1)] } })).body.id;
    buyers = (await call(segmentsRoute.POST, "POST", { body: { name: `buyers ${run}`, rules: [rule("orders", 2)] } })).body.id;
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(buyers, 1), Boolean, "the processor to know the segments");
  }, 60_000);
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("reports what the pipeline did: events, lag, transitions, largest and growing segments", async () => {
    const empty = await call(overview.GET, "GET");
    expect(empty.status).toBe(200);
    expect(empty.body.evaluationLag).toBeNull();
    expect(empty.body.ingestion.eventsInWindow).toBe(0);

    const now = Date.now();
    const batch = [
      ...[1, 2, 3, 4, 5].map((i) => ({ userId: `c${i}-${run}`, eventType: "clicks", timestamp: now - i, attributes: {} })),
      { userId: `b-${run}`, eventType: "orders", timestamp: now - 10, attributes: { value: 3 } },
      { userId: `b-${run}`, eventType: "orders", timestamp: now - 5, attributes: { value: 4 } },
    ];
    expect((await call(events.POST, "POST", { body: { events: batch } })).status).toBe(202);
    await env.rt.processor!.idle();

    const body = await eventually(
      async () => (await call(overview.GET, "GET")).body,
      (b) => b.ingestion?.eventsInWindow === 7 && b.segments?.largest?.length === 2,
      "the overview to count the batch",
    );
    expect(body.ingestion.eventsPerSecond).toBeCloseTo(7 / 60, 5);
    expect(body.ingestion.perMinute.reduce((a: number, m: { events: number }) => a + m.events, 0)).toBe(7);
    expect(body.evaluationLag).toMatchObject({ events: 7 });
    expect(body.evaluationLag.p50Ms).toBeGreaterThanOrEqual(0);
    expect(body.evaluationLag.maxMs).toBeGreaterThanOrEqual(body.evaluationLag.p95Ms);
    expect(body.evaluationLag.maxMs).toBeLessThan(60_000);
    expect(body.transitions.inWindow).toBe(6);
    expect(body.transitions.series.reduce((a: number, m: { entries: number }) => a + m.entries, 0)).toBe(6);
    expect(body.segments.largest).toEqual([
      expect.objectContaining({ id: clickers, members: 5 }),
      expect.objectContaining({ id: buyers, members: 1 }),
    ]);
    expect(body.segments.fastestGrowing[0]).toMatchObject({ id: clickers, entries: 5, exits: 0, net: 5, growthPercent: null });
    expect(body.segments).toMatchObject({ live: 2, active: 2 });
    expect(body.sends).toEqual({ byStatus: { queued: 0, sending: 0, sent: 0, failed: 0, skipped: 0 }, total: 0 });
    expect(body.processor.inProcess).toMatchObject({ users: 6, backlog: 0 });
    expect(body.outbox).toMatchObject({ pending: 0 });
  }, 60_000);

  it("lists a user's recent events newest first, and none for an unknown user", async () => {
    const u = `b-${run}`;
    const res = await eventually(
      async () => await call(userEvents.GET, "GET", { params: { userId: u } }),
      (r) => r.body?.data?.length === 2,
      "the user's two archived events",
    );
    expect(res.body.data.map((e: { eventType: string; attributes: { value: number } }) => [e.eventType, e.attributes.value])).toEqual([
      ["orders", 4],
      ["orders", 3],
    ]);
    const one = await call(userEvents.GET, "GET", { params: { userId: u }, query: { limit: "1" } });
    expect(one.body.data).toHaveLength(1);
    expect((await call(userEvents.GET, "GET", { params: { userId: `nobody-${run}` } })).body.data).toEqual([]);
    const bad = await call(userEvents.GET, "GET", { params: { userId: u }, query: { limit: "501" } });
    expect(bad.status).toBe(400);
    expectSeedError(bad.body, "VALIDATION_ERROR", "limit");
    expect((await call(userEvents.GET, "GET", { params: { userId: u }, key: null })).status).toBe(401);
  });

  it("lists recently active users, the most recent first", async () => {
    await new Promise((r) => setTimeout(r, 20));
    await call(events.POST, "POST", { body: { events: [{ userId: `c3-${run}`, eventType: "clicks", timestamp: Date.now(), attributes: {} }] } });
    const res = await eventually(
      () => call(users.GET, "GET", { query: { limit: "3" } }),
      (r) => r.body?.data?.[0]?.events === 2 && r.body.data[0].userId === `c3-${run}`,
      "c3 as the most recently active user",
    );
    expect(res.body.data).toHaveLength(3);
    const all = (await call(users.GET, "GET", { query: { limit: "100" } })).body.data;
    expect(all).toContainEqual(expect.objectContaining({ userId: `b-${run}`, events: 2 }));
    expect(all).toHaveLength(6);
    const bad = await call(users.GET, "GET", { query: { minutes: "0" } });
    expectSeedError(bad.body, "VALIDATION_ERROR", "minutes");
  });
});
