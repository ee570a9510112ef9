/**
 * Segment-spec ingestion end to end: Segment's own Node SDK (@segment/analytics-node) sends to
 * our HTTP server, and memberships change. Everything else goes through the typed client.
 */
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, createClient, type Client } from "@/lib/client";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { startApiServer, type ApiServer } from "@/test/support/api-server";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";

describe.each(engineCases)("Segment-spec ingestion on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: ApiServer;
  let api: Client;
  let writeKey: string;
  let readKey: string;
  const run = Math.random().toString(36).slice(2, 8);
  const user = (n: string) => `seg-${run}-${n}`;
  let buyers: string; // ≥ 2 orders in 60 min
  let spenders: string; // ≥ 100 revenue in 60 min

  beforeAll(async () => {
    env = await openTestRuntime(engine, {
      workers: true,
      env: { SEGMENT_EVENT_MAP: JSON.stringify({ "Order Completed": "orders", "Product Added": "addToCart" }) },
    });
    installRuntime(env.rt);
    server = await startApiServer();
    api = createClient({ baseUrl: server.url, apiKey: ADMIN_KEY, validate: true });
    writeKey = (await api.admin.createApiKey({ body: { name: `segment source ${run}`, scopes: ["ingest"] } })).key;
    readKey = (await api.admin.createApiKey({ body: { name: `reader ${run}`, scopes: ["read"] } })).key;
    const rule = (extra: Record<string, unknown>) => ({ eventType: "orders" as const, operator: "GTE" as const, windowMinutes: 60, ...extra });
    buyers = (await api.segments.create({ body: { name: `buyers ${run}`, rules: [rule({ attribute: "count", value: 2 })] } })).id;
    spenders = (await api.segments.create({ body: { name: `spenders ${run}`, rules: [rule({ attribute: "sum", value: 100 })] } })).id;
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(buyers, 1) && env.rt.processor!.hasDefinition(spenders, 1), (ok) => ok, "the processor knows the segments");
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    uninstallRuntime();
    await env?.close();
  });

  const segmentsOf = async (userId: string) => (await api.users.segments({ params: { userId } })).segments.map((s) => s.segmentId).sort();

  it("the real Segment SDK's track and identify calls change memberships and profiles", async () => {
    const ada = user("ada");
    const bob = user("bob");
    const analytics = new Analytics({ writeKey, host: server.url, flushAt: 50, flushInterval: 60_000, maxRetries: 1 });
    const errors: unknown[] = [];
    analytics.on("error", (e) => errors.push(e));
    analytics.identify({ userId: ada, traits: { email: "ada@example.com", phone: "+49 151 1234 5678", name: "Ada" } });
    analytics.track({ userId: ada, event: "Order Completed", properties: { revenue: 60, orderId: "o-1" }, messageId: `${run}-m1` });
    analytics.track({ userId: ada, event: "Order Completed", properties: { revenue: 45 }, messageId: `${run}-m2` });
    // The SDK retrying a message: the same messageId in the same batch counts once.
    analytics.track({ userId: ada, event: "Order Completed", properties: { revenue: 45 }, messageId: `${run}-m2` });
    analytics.track({ userId: ada, event: "Newsletter Opened", properties: { issue: 7 } });
    analytics.track({ anonymousId: bob, event: "Order Completed", properties: { revenue: 150 } });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);

    await eventually(() => segmentsOf(ada), (s) => s.length === 2, "ada enters both segments", 30_000);
    expect(await segmentsOf(ada)).toEqual([buyers, spenders].sort());
    // One order of 150: a spender, not a buyer.
    await eventually(() => segmentsOf(bob), (s) => s.length === 1, "bob enters the spenders", 30_000);
    expect(await segmentsOf(bob)).toEqual([spenders]);

    // The duplicate was dropped: two orders archived for ada, and revenue became the summed value.
    await env.rt.processor!.idle();
    const events = await eventually(async () => (await api.users.events({ params: { userId: ada } })).data, (d) => d.length >= 2, "ada's events archived");
    expect(events.map((e) => e.eventType)).toEqual(["orders", "orders"]);
    expect(events.map((e) => e.attributes.value).sort()).toEqual([45, 60]);

    // identify → profile: email, the phone compacted to E.164, other traits as attributes.
    const profile = await api.users.getProfile({ params: { userId: ada } });
    expect(profile).toMatchObject({ email: "ada@example.com", phone: "+4915112345678", attributes: { name: "Ada" } });

    // The unmapped event was counted, not evaluated.
    const mappings = await api.segment.mappings();
    expect(mappings.unmapped).toContainEqual(expect.objectContaining({ eventName: "Newsletter Opened", count: 1, lastUserId: ada, lastProperties: { issue: 7 } }));
    expect(mappings.mappings).toContainEqual({ eventName: "Order Completed", eventType: "orders", source: "env" });
  }, 90_000);

  it("a messageId is accepted once within 24 hours, across calls", async () => {
    const u = user("dedup");
    const message = { type: "track" as const, userId: u, event: "Product Added", messageId: `${run}-again` };
    const first = await api.segment.batch({ body: { batch: [message] } });
    expect(first).toMatchObject({ received: 1, accepted: 1, duplicates: 0 });
    const second = await api.segment.batch({ body: { batch: [message, { ...message, messageId: `${run}-new` }] } });
    expect(second).toMatchObject({ received: 2, accepted: 1, duplicates: 1 });
    // Another write key is another source: its ids are its own.
    const otherKey = (await api.admin.createApiKey({ body: { name: `other source ${run}`, scopes: ["ingest"] } })).key;
    const other = createClient({ baseUrl: server.url, apiKey: otherKey });
    expect(await other.segment.batch({ body: { batch: [message] } })).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it("forgets a messageId after 24 hours: counted as new again, then purged", async () => {
    const store = env.rt.integrations.segmentIngest.store;
    const t0 = new Date("2026-01-01T00:00:00Z");
    const day = 24 * 3600_000;
    const source = `purge-${run}`;
    const once = (at: Date) => store.once(source, ["m-1"], at, new Date(at.getTime() - day), async () => []);
    expect([...(await once(t0))]).toEqual(["m-1"]);
    expect([...(await once(new Date(t0.getTime() + day - 1)))]).toEqual([]);
    expect([...(await once(new Date(t0.getTime() + day + 1)))]).toEqual(["m-1"]);
    // A delivery that fails leaves the id free for the retry.
    await expect(store.once(source, ["m-2"], t0, new Date(t0.getTime() - day), async () => Promise.reject(new Error("log down")))).rejects.toThrow("log down");
    expect([...(await store.once(source, ["m-2"], t0, new Date(t0.getTime() - day), async () => []))]).toEqual(["m-2"]);
    // m-2 (received at t0) is purged; m-1 (received again at t0 + 1 day) is kept.
    expect(await store.purgeMessageIds(new Date(t0.getTime() + day))).toBeGreaterThanOrEqual(1);
    expect([...(await store.once(source, ["m-1", "m-2"], new Date(t0.getTime() + day + 2), new Date(t0.getTime() + 2), async () => []))]).toEqual(["m-2"]);
  });

  it("a stored mapping applies to the next call; /api/v1/segment/track takes a single call", async () => {
    const u = user("mapped");
    await api.segment.putMapping({ body: { eventName: "Button Tapped", eventType: "clicks" } });
    const res = await api.segment.track({ body: { userId: u, event: "Button Tapped", properties: { button: "buy" } } });
    expect(res).toMatchObject({ accepted: 1, unmapped: 0 });
    await env.rt.processor!.idle();
    const events = await eventually(async () => (await api.users.events({ params: { userId: u } })).data, (d) => d.length === 1, "the mapped event archived");
    expect(events[0]).toMatchObject({ eventType: "clicks", attributes: { button: "buy" } });
    expect((await api.segment.mappings()).mappings).toContainEqual({ eventName: "Button Tapped", eventType: "clicks", source: "stored" });
    await api.segment.deleteMapping({ query: { eventName: "Button Tapped" } });
    expect(await api.segment.track({ body: { userId: u, event: "Button Tapped" } })).toMatchObject({ accepted: 0, unmapped: 1 });
    const trail = await env.rt.accountDeps.audit.list({ entityType: "segment_mapping", entityId: "Button Tapped", limit: 10 });
    expect(trail.map((e) => e.action)).toEqual(["segment_mapping.delete", "segment_mapping.put"]);
  });

  it("a batch accepts its valid messages and lists the invalid ones; an invalid single call is a 400", async () => {
    const u = user("partial");
    const res = await api.segment.batch({
      body: {
        batch: [
          { type: "track", userId: u, event: "Order Completed" },
          { type: "track", userId: u, event: "Order Completed", timestamp: "2020-01-01T00:00:00Z" },
          { type: "track", event: "Order Completed" },
          { type: "page", userId: u, name: "Home" },
        ],
      },
    });
    expect(res).toMatchObject({ received: 2, accepted: 1, unmapped: 1 });
    expect(res.rejected).toEqual([
      { field: "batch[2].userId", reason: "userId or anonymousId is required" },
      { field: "batch[1].timestamp", reason: "is more than 24 hours in the past" },
    ]);
    const bad = await api.segment.track({ body: { userId: u } as never }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).status).toBe(400);
    expect((bad as ApiError).details.field).toBe("event");
  });

  it("the write key is the Basic auth user name and must hold the ingest scope", async () => {
    const post = (authorization: string | null) =>
      fetch(`${server.url}/v1/track`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ userId: user("auth"), event: "Product Added" }),
      });
    const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
    expect((await post(basic(writeKey))).status).toBe(200);
    const unknown = await post(basic("am_not-a-key"));
    expect(unknown.status).toBe(401);
    expect((await unknown.json()).error.code).toBe("UNAUTHORIZED");
    const reader = await post(basic(readKey));
    expect(reader.status).toBe(403);
    expect((await reader.json()).error.details.reason).toBe("requires scope 'ingest'");
    expect((await post(null)).status).toBe(401);
  });
});
