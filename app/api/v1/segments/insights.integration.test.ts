import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { estimateSegment } from "@/lib/services/segment-insights";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { call } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as events from "@/app/api/v1/events/route";
import * as members from "@/app/api/v1/segments/[segmentId]/members/route";
import * as stats from "@/app/api/v1/segments/[segmentId]/stats/route";
import * as batchStats from "@/app/api/v1/segments/stats/route";
import * as estimate from "@/app/api/v1/segments/estimate/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";

describe.each(engineCases)("segment insights on $name: hourly activity, size estimate, member search", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);
  const user = (n: string | number) => `ins-${run}-${String(n).padStart(3, "0")}`;

  const create = async (body: unknown) => {
    const res = await call(segmentsRoute.POST, "POST", { body });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };
  const send = async (list: unknown[]) => {
    for (let i = 0; i < list.length; i += 1000) {
      const res = await call(events.POST, "POST", { body: { events: list.slice(i, i + 1000) } });
      expect(res.status).toBe(202);
    }
  };

  beforeAll(async () => {
    env = await openTestRuntime(engine, { workers: true });
    installRuntime(env.rt);
  }, 120_000);
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("reports hourly members, entries and exits, single and batched; estimates match the engine", async () => {
    const clicker = await create({
      name: `clickers ${run}`,
      rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 2, windowMinutes: 30 }],
    });
    const spender = await create({
      name: `spenders ${run}`,
      rules: [{ eventType: "orders", attribute: "sum", field: "value", operator: "GT", value: 100, windowMinutes: 1440 }],
    });
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(clicker.id, 1) && env.rt.processor!.hasDefinition(spender.id, 1), (ok) => ok, "definitions");

    // 30 users: every user clicks (i % 3) + 1 times → users with i % 3 >= 1 are clickers (20);
    // users with i < 10 order 150 → spenders (10).
    const now = Date.now();
    const list: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      for (let c = 0; c <= i % 3; c++) list.push({ userId: user(i), eventType: "clicks", timestamp: now - 60_000 + c, attributes: {} });
      if (i < 10) list.push({ userId: user(i), eventType: "orders", timestamp: now - 120_000, attributes: { value: 150 } });
    }
    await send(list);
    await eventually(async () => (await call(stats.GET, "GET", { params: { segmentId: clicker.id } })).body.currentMembers, (n) => n === 20, "20 clickers");

    const one = await call(stats.GET, "GET", { params: { segmentId: clicker.id }, query: { window: "24h" } });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ segmentId: clicker.id, window: "24h", bucket: "hour", currentMembers: 20 });
    expect(one.body.points).toHaveLength(24);
    expect(one.body.points.at(-1)).toMatchObject({ members: 20, entries: 20, exits: 0 });
    expect(one.body.points[0]).toMatchObject({ members: 0, entries: 0, exits: 0 });
    expect(new Date(one.body.points[1].at).getTime() - new Date(one.body.points[0].at).getTime()).toBe(3_600_000);

    await eventually(async () => (await call(stats.GET, "GET", { params: { segmentId: spender.id } })).body.currentMembers, (n) => n === 10, "10 spenders");
    const batch = await call(batchStats.GET, "GET", { query: { ids: `${clicker.id},${spender.id}`, window: "7d" } });
    expect(batch.status).toBe(200);
    expect(batch.body.data.map((d: { segmentId: string; currentMembers: number }) => [d.segmentId, d.currentMembers])).toEqual([
      [clicker.id, 20],
      [spender.id, 10],
    ]);
    expect(batch.body.data[0].points).toHaveLength(168);

    expect((await call(stats.GET, "GET", { params: { segmentId: "00000000-0000-4000-8000-000000000000" } })).status).toBe(404);
    const badWindow = await call(stats.GET, "GET", { params: { segmentId: clicker.id }, query: { window: "1y" } });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.error.details.field).toBe("window");

    // Estimates run the engine's semantics over the retained events: the same answer as the live segments.
    const archived = () => env.rt.events.recent(user(29), now - 3_600_000, 10);
    await eventually(archived, (e) => e.length > 0, "events archived");
    const est = await call(estimate.POST, "POST", {
      body: { name: "", rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 2, windowMinutes: 30 }] },
    });
    expect(est.status).toBe(200);
    expect(est.body).toMatchObject({ matching: 20, sampled: false, activeUsers: 30, evaluatedUsers: 30 });
    expect(est.body.population).toBeGreaterThanOrEqual(30);

    const derived = await call(estimate.POST, "POST", { body: { logicalExpression: `${clicker.id} AND NOT ${spender.id}` } });
    // clickers (i%3 >= 1) among i >= 10: i in 10..29 with i%3 != 0 → 14
    expect(derived.body).toMatchObject({ matching: 14, sampled: false });

    // A profile-only user counts in the population, and matches a zero-event definition.
    expect((await call(profile.PUT, "PUT", { params: { userId: user("quiet") }, body: { email: `q-${run}@example.com` } })).status).toBeLessThan(300);
    const zero = await call(estimate.POST, "POST", {
      body: { rules: [{ eventType: "installs", attribute: "count", operator: "LT", value: 1, windowMinutes: 60 }] },
    });
    expect(zero.body.quietUsers).toBeGreaterThanOrEqual(1);
    expect(zero.body.matching).toBe(zero.body.population);

    // Errors land at the field the builder shows them on.
    const unknown = await call(estimate.POST, "POST", { body: { logicalExpression: `${clicker.id} OR 00000000-0000-4000-8000-00000000dead` } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toMatchObject({ field: "logicalExpression" });
    expect(unknown.body.error.details.reason).toMatch(/unknown segment/);
    const derivedSeg = await create({ name: `derived ${run}`, logicalExpression: `${clicker.id} OR ${spender.id}` });
    const cyclic = await call(estimate.POST, "POST", { body: { segmentId: clicker.id, logicalExpression: `${derivedSeg.id} AND ${spender.id}` } });
    expect(cyclic.status).toBe(400);
    expect(cyclic.body.error.details.reason).toMatch(/cycle/);
    const badRule = await call(estimate.POST, "POST", {
      body: { rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 5 }, { eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 2000 }] },
    });
    expect(badRule.body.error.details.field).toBe("rules[1].windowMinutes");

    // Sampling: with a sample limit of 10, a hash sample is evaluated and scaled to the whole.
    const sampledEstimate = await estimateSegment(
      { ...env.rt.insightDeps, estimateSampleUsers: 10 },
      { type: "INDEPENDENT", rules: [{ eventType: "clicks", attribute: "count", field: null, operator: "GTE", value: 1, windowMinutes: 30 }] },
      new Date(),
    );
    expect(sampledEstimate.sampled).toBe(true);
    expect(sampledEstimate.evaluatedUsers).toBeLessThan(30);
    expect(sampledEstimate.matching).toBe(sampledEstimate.activeUsers); // every active user clicked

    // Member search: user ids starting with the text, paged.
    const found = await call(members.GET, "GET", { params: { segmentId: clicker.id }, query: { search: user(10).slice(0, -1), limit: "5" } });
    expect(found.status).toBe(200);
    // users 010..019 with i%3 != 0: 010, 011, 013, 014, 016, 017, 019 → first page of 5
    expect(found.body.data.map((m: { userId: string }) => m.userId)).toEqual([10, 11, 13, 14, 16].map(user));
    expect(found.body.next).toBe(user(16));
  }, 120_000);
});
