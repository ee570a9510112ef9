import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { TOPICS, type DeadLetter } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { call } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as segmentStatus from "@/app/api/v1/segments/[segmentId]/status/route";
import * as segmentItem from "@/app/api/v1/segments/[segmentId]/route";
import * as members from "@/app/api/v1/segments/[segmentId]/members/route";
import * as events from "@/app/api/v1/events/route";
import * as userSegments from "@/app/api/v1/users/[userId]/segments/route";
import * as userHistory from "@/app/api/v1/users/[userId]/segments/history/route";
import * as explain from "@/app/api/v1/users/[userId]/segments/[segmentId]/explain/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";
import type { MembershipMessage } from "./segment-processor";


describe.each(engineCases)("pipeline on $name: events in → memberships, history and transitions out", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);
  const user = (n: string) => `${n}-${run}`;
  const published: MembershipMessage[] = [];
  const deadLetters: { headers: Record<string, string>; letter: DeadLetter }[] = [];
  let closeSub: () => Promise<void> = async () => {};

  const create = async (body: unknown) => {
    const res = await call(segmentsRoute.POST, "POST", { body });
    expect(res.status).toBe(201);
    return res.body as { id: string; version: number };
  };
  const send = async (list: unknown[]) => {
    const res = await call(events.POST, "POST", { body: { events: list } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: list.length });
  };
  const segmentsOf = async (userId: string) =>
    ((await call(userSegments.GET, "GET", { params: { userId } })).body.segments as { segmentId: string; name: string }[])
      .map((s) => s.segmentId)
      .sort();

  beforeAll(async () => {
    env = await openTestRuntime(engine, { workers: true });
    installRuntime(env.rt);
    const sub = await env.log.subscribe({
      groupId: `pipeline-test-${run}`,
      topics: [TOPICS.segmentMemberships],
      fromBeginning: false,
      handleBatch: async (batch) => {
        for (const m of batch.messages) {
          const msg = JSON.parse(m.value) as MembershipMessage;
          if (msg.userId.endsWith(run)) published.push(msg);
        }
      },
    });
    const dead = await env.log.subscribe({
      groupId: `pipeline-test-dead-${run}`,
      topics: [TOPICS.deadLetters],
      fromBeginning: false,
      handleBatch: async (batch) => {
        for (const m of batch.messages) deadLetters.push({ headers: m.headers ?? {}, letter: JSON.parse(m.value) as DeadLetter });
      },
    });
    closeSub = async () => {
      await sub.close();
      await dead.close();
    };
  });
  afterAll(async () => {
    await closeSub();
    uninstallRuntime();
    await env?.close();
  });

  it("enters on the third addToCart, derived segments follow, and an unknown user has none", async () => {
    const cart = await create({ name: `cart3 ${run}`, rules: [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }] });
    const buyer = await create({ name: `buyer ${run}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] });
    const abandon = await create({ name: `abandoner ${run}`, logicalExpression: `${cart.id} AND NOT ${buyer.id}` });
    await env.rt.relay.flush();
    // Events sent before the processor knows a segment enter it later, by its backfill.
    await eventually(async () => [cart, buyer, abandon].every((s) => env.rt.processor!.hasDefinition(s.id, 1)), (ok) => ok, "definitions");

    const u = user("shopper");
    const now = Date.now();
    await send([0, 1].map((i) => ({ userId: u, eventType: "addToCart", timestamp: now - 1000 + i, attributes: {} })));
    await env.rt.processor!.idle();
    expect(await segmentsOf(u)).toEqual([]);
    await send([{ userId: u, eventType: "addToCart", timestamp: new Date(now).toISOString(), attributes: { sku: "x" } }]);
    const inSegments = await eventually(() => segmentsOf(u), (s) => s.length === 2, "entry");
    expect(inSegments).toEqual([abandon.id, cart.id].sort());

    await send([{ userId: u, eventType: "orders", timestamp: now + 1, attributes: { value: 30 } }]);
    expect(await eventually(() => segmentsOf(u), (s) => s.includes(buyer.id), "buyer")).toEqual([buyer.id, cart.id].sort());

    const list = await call(members.GET, "GET", { params: { segmentId: cart.id } });
    expect(list.body.data.map((m: { userId: string }) => m.userId)).toEqual([u]);
    const detail = await call(segmentItem.GET, "GET", { params: { segmentId: cart.id } });
    expect(detail.body.stats).toMatchObject({ currentMembers: 1, entriesLast24h: 1, exitsLast24h: 0 });

    // History is written right after the serving store: wait for the exit to land there too.
    type Row = { segmentId: string; enterCause: string; exitCause: string | null; segmentName: string };
    const rows = await eventually(
      async () => (await call(userHistory.GET, "GET", { params: { userId: u } })).body.data as Row[],
      (r) => r.some((x) => x.segmentId === abandon.id && x.exitCause !== null),
      "history exit",
    );
    const abandonRow = rows.find((r) => r.segmentId === abandon.id)!;
    expect(abandonRow).toMatchObject({ enterCause: "event", exitCause: "event", segmentName: `abandoner ${run}` });

    await eventually(async () => published.filter((p) => p.userId === u).length, (n) => n >= 4, "published transitions");
    const kinds = published.filter((p) => p.userId === u).map((p) => `${p.kind} ${p.segmentId === abandon.id ? "abandon" : p.segmentId === cart.id ? "cart" : "buyer"}`);
    expect(kinds.sort()).toEqual(["enter abandon", "enter buyer", "enter cart", "exit abandon"]);
    expect(published.every((p) => p.id === `${p.userId}|${p.segmentId}|${p.kind}|${p.at}`)).toBe(true);

    expect((await call(userSegments.GET, "GET", { params: { userId: user("nobody") } })).body).toEqual({
      userId: user("nobody"),
      segments: [],
    });
  }, 60_000);

  it("exits when the window slides past, with no new event", async () => {
    const seg = await create({ name: `recent click ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 1 }] });
    await env.rt.relay.flush();
    await eventually(async () => env.rt.processor!.status().generation, () => true, "definitions");
    const u = user("clicker");
    // Happened 57 s ago: in the 1-minute window for about 3 more seconds.
    await send([{ userId: u, eventType: "clicks", timestamp: Date.now() - 57_000, attributes: {} }]);
    await eventually(() => segmentsOf(u), (s) => s.includes(seg.id), "entry", 10_000);
    const exitAt = await eventually(
      async () => published.find((p) => p.userId === u && p.kind === "exit"),
      (p) => p !== undefined,
      "time-driven exit",
      15_000,
    );
    expect(exitAt!.cause).toBe("time");
    expect(await segmentsOf(u)).toEqual([]);
  }, 60_000);

  it("evaluates a new segment at once from retained state, and deactivation exits its members", async () => {
    const u = user("spender");
    const now = Date.now();
    await send([10, 20, 30].map((v, i) => ({ userId: u, eventType: "orders", timestamp: now - 60_000 * (i + 1), attributes: { value: v } })));
    await env.rt.processor!.idle();
    const seg = await create({
      name: `spent 50 ${run}`,
      rules: [{ eventType: "orders", attribute: "sum", operator: "GTE", value: 50, windowMinutes: 1440 }],
    });
    await env.rt.relay.flush();
    const entered = await eventually(
      async () => published.find((p) => p.userId === u && p.segmentId === seg.id),
      (p) => p !== undefined,
      "backfill entry",
    );
    expect(entered).toMatchObject({ kind: "enter", cause: "definition", version: 1 });
    const progress = await eventually(
      async () => (await call(segmentItem.GET, "GET", { params: { segmentId: seg.id } })).body.stats.evaluation,
      (e) => e?.state === "ready",
      "backfill progress in the segment's stats",
    );
    expect(progress).toMatchObject({ state: "ready", version: 1, usersRemaining: 0 });
    expect(progress.usersTotal).toBeGreaterThanOrEqual(1);

    const off = await call(segmentStatus.PATCH, "PATCH", { params: { segmentId: seg.id }, body: { active: false } });
    expect(off.body.version).toBe(2);
    await env.rt.relay.flush();
    const exited = await eventually(
      async () => published.find((p) => p.userId === u && p.segmentId === seg.id && p.kind === "exit"),
      (p) => p !== undefined,
      "deactivation exit",
    );
    expect(exited).toMatchObject({ cause: "deactivated", version: 2 });
    expect(await segmentsOf(u)).not.toContain(seg.id);
  }, 60_000);

  it("explains a membership rule by rule and through a derived expression", async () => {
    const carts = await create({ name: `explain carts ${run}`, rules: [
      { eventType: "addToCart", attribute: "count", operator: "GTE", value: 2, windowMinutes: 30 },
      { eventType: "orders", attribute: "sum", field: "amount", operator: "LT", value: 100, windowMinutes: 1440 },
    ] });
    const derived = await create({ name: `explain not carts ${run}`, logicalExpression: `NOT ${carts.id}` });
    await env.rt.relay.flush();
    const u = user("explained");
    const now = Date.now();
    await send([
      { userId: u, eventType: "addToCart", timestamp: now - 5 * 60_000, attributes: {} },
      { userId: u, eventType: "addToCart", timestamp: now - 40 * 60_000, attributes: {} },
      { userId: u, eventType: "orders", timestamp: now - 2 * 3600_000, attributes: { amount: 30 } },
    ]);
    await env.rt.processor!.idle();
    const res = await eventually(
      () => call(explain.GET, "GET", { params: { userId: u, segmentId: carts.id } }),
      (r) => r.body.rules?.[1]?.aggregate === 30,
      "archived events",
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      userId: u,
      segmentId: carts.id,
      type: "INDEPENDENT",
      holds: false,
      rules: [
        { eventType: "addToCart", attribute: "count", windowMinutes: 30, operator: "GTE", threshold: 2, aggregate: 1, holds: false },
        { eventType: "orders", attribute: "sum", field: "amount", operator: "LT", threshold: 100, aggregate: 30, holds: true },
      ],
    });
    const tree = await call(explain.GET, "GET", { params: { userId: u, segmentId: derived.id } });
    expect(tree.body).toMatchObject({
      holds: true,
      expression: { type: "not", value: true, operand: { type: "segment", segmentId: carts.id, value: false } },
    });
    // The explanation agrees with the engine.
    await eventually(() => segmentsOf(u), (segs) => segs.includes(derived.id), "the engine's verdict");
    expect((await call(explain.GET, "GET", { params: { userId: u, segmentId: "not-a-uuid" } })).status).toBe(404);
  }, 60_000);

  it("dead-letters a foreign segment definition and garbage events, and goes on with the next valid events", async () => {
    const p = env.rt.processor!;
    // Another deployment's definition on the same topic: this database has no such segment.
    const foreignId = randomUUID();
    const foreignUpdate = {
      kind: "created",
      segmentId: foreignId,
      version: 1,
      at: new Date().toISOString(),
      definition: {
        id: foreignId, name: `foreign ${run}`, description: null, type: "INDEPENDENT", active: true, version: 1,
        rules: [{ eventType: "clicks", attribute: "count", field: null, operator: "GTE", value: 1, windowMinutes: 60 }],
        logicalExpression: null, expressionTree: null, dependencies: [],
      },
    };
    await env.log.append(TOPICS.segmentUpdates, [{ key: foreignId, value: JSON.stringify(foreignUpdate) }]);
    const foreign = await eventually(
      async () => deadLetters.find((d) => d.letter.source?.key === foreignId),
      (d) => d !== undefined,
      "the foreign definition in dead-letters",
    );
    expect(foreign!.letter).toMatchObject({ consumer: "segment-processor", reason: "unknown-segment", source: { topic: TOPICS.segmentUpdates } });
    expect(foreign!.headers).toMatchObject({ reason: "unknown-segment", "original-topic": TOPICS.segmentUpdates });
    expect(JSON.parse(foreign!.letter.value)).toEqual(foreignUpdate);
    expect(p.hasDefinition(foreignId, 1)).toBe(false);

    const mine = await create({ name: `clicked ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] });
    await env.rt.relay.flush();
    await eventually(async () => p.hasDefinition(mine.id, 1), (ok) => ok, "definition");

    // Garbage on user-events, keyed like the next valid event so it sits in front of it in the same partition.
    const u = user("after-garbage");
    const before = p.status();
    await env.log.append(TOPICS.userEvents, [
      { key: u, value: "{not json" },
      { key: u, value: JSON.stringify({ userId: u, eventType: "teleports", timestamp: Date.now() }) },
    ]);
    await send([{ userId: u, eventType: "clicks", timestamp: Date.now(), attributes: {} }]);
    expect(await eventually(() => segmentsOf(u), (s) => s.includes(mine.id), "membership after the garbage")).toContain(mine.id);
    const garbage = await eventually(
      async () => deadLetters.filter((d) => d.letter.source?.topic === TOPICS.userEvents && d.letter.source.key === u),
      (d) => d.length === 2,
      "garbage in dead-letters",
    );
    expect(garbage.map((d) => d.letter.reason)).toEqual(["unparseable", "unparseable"]);
    expect(garbage.map((d) => d.letter.value)).toEqual(["{not json", expect.stringContaining("teleports")]);
    const [a, b] = garbage.map((d) => BigInt(d.headers["original-offset"]!));
    expect(b).toBe(a! + 1n);
    expect(garbage[0]!.headers["original-partition"]).toBe(String(garbage[0]!.letter.source!.partition));
    // Nothing was written for the foreign segment, and the counts show what was given up on.
    expect(published.some((m) => m.segmentId === foreignId)).toBe(false);
    const after = p.status();
    expect(after.eventsRejected - before.eventsRejected).toBe(2);
    expect((after.deadLetters.unparseable ?? 0) - (before.deadLetters.unparseable ?? 0)).toBe(2);
    expect(after.deadLetters["unknown-segment"]).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("dead-letters transitions of a segment that vanished from the database, and keeps the partition moving", async () => {
    const p = env.rt.processor!;
    const doomed = await create({ name: `doomed ${run}`, rules: [{ eventType: "installs", attribute: "count", operator: "GTE", value: 2, windowMinutes: 60 }] });
    const kept = await create({ name: `kept ${run}`, rules: [{ eventType: "installs", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] });
    await env.rt.relay.flush();
    await eventually(async () => p.hasDefinition(doomed.id, 1) && p.hasDefinition(kept.id, 1), (ok) => ok, "definitions");
    // Gone behind the processor's back (a hard delete): its transitions now fail on the foreign key.
    await env.db.db.execute(sql`delete from segments where id = ${doomed.id}`);
    const u = user("installer");
    const now = Date.now();
    await send([0, 1].map((i) => ({ userId: u, eventType: "installs", timestamp: now - 10 + i, attributes: {} })));
    const letter = await eventually(
      async () => deadLetters.find((d) => d.headers.reason === "unknown-segment" && d.letter.source === undefined && d.letter.value.includes(doomed.id)),
      (d) => d !== undefined,
      "the doomed segment's transitions in dead-letters",
    );
    expect(letter!.letter.error).toMatch(/foreign key/);
    const segs = await eventually(() => segmentsOf(u), (s) => s.includes(kept.id), "the other segment's membership");
    expect(segs).not.toContain(doomed.id);
    // The partition is not stuck: the next event of the same user is applied.
    const more = await create({ name: `installs3 ${run}`, rules: [{ eventType: "installs", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }] });
    await env.rt.relay.flush();
    await eventually(async () => p.hasDefinition(more.id, 1), (ok) => ok, "definition");
    await send([{ userId: u, eventType: "installs", timestamp: Date.now(), attributes: {} }]);
    expect(await eventually(() => segmentsOf(u), (s) => s.includes(more.id), "entry after the failure")).toContain(kept.id);
    expect(p.status().deadLetters["unknown-segment"]).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("counts events older than 24 h at arrival as dropped late, and applies nothing from them", async () => {
    const p = env.rt.processor!;
    const seg = await create({ name: `late orders ${run}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 1440 }] });
    await env.rt.relay.flush();
    await eventually(async () => p.hasDefinition(seg.id, 1), (ok) => ok, "definition");
    const before = p.status().eventsDroppedLate;
    // The API refuses such events; one can still arrive late through the log (a producer that buffered it).
    const u = user("late");
    const now = Date.now();
    await env.log.append(TOPICS.userEvents, [
      { key: u, value: JSON.stringify({ eventId: randomUUID(), userId: u, eventType: "orders", timestamp: now - 25 * 3600_000, attributes: {}, receivedAt: now - 25 * 3600_000 }) },
    ]);
    await eventually(async () => p.status().eventsDroppedLate, (n) => n === before + 1, "the late event counted");
    await p.idle();
    expect(await segmentsOf(u)).toEqual([]);
    expect(await env.rt.events.recent(u, 0, 10)).toEqual([]);
  }, 60_000);

  it("stores profiles: 404 before, 201 on create, 200 on replace, 400 with the field", async () => {
    const u = user("profiled");
    expect((await call(profile.GET, "GET", { params: { userId: u } })).status).toBe(404);
    const created = await call(profile.PUT, "PUT", {
      params: { userId: u },
      body: { email: "ada@example.com", phone: "+4915112345678", timezone: "Europe/Berlin", deviceTokens: ["fcm-token"], attributes: { plan: "pro" } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userId: u, email: "ada@example.com", timezone: "Europe/Berlin", attributes: { plan: "pro" } });
    const replaced = await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: "ada@example.org" } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ email: "ada@example.org", phone: null, deviceTokens: [], attributes: {} });
    expect((await call(profile.GET, "GET", { params: { userId: u } })).body.email).toBe("ada@example.org");
    // A profile makes the user known: zero-event segments apply to them without any event.
    const quiet = await create({ name: `never ordered ${run}`, rules: [{ eventType: "orders", attribute: "count", operator: "LT", value: 1, windowMinutes: 60 }] });
    await env.rt.relay.flush();
    const fresh = user("profile-only");
    expect((await call(profile.PUT, "PUT", { params: { userId: fresh }, body: { email: "new@example.com" } })).status).toBe(201);
    await eventually(() => segmentsOf(fresh), (s) => s.includes(quiet.id), "zero-event membership of a profile-only user");
    const bad = await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: "nope", timezone: "Mars/Olympus" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors.map((e: { field: string }) => e.field).sort()).toEqual(["email", "timezone"]);
  }, 30_000);
});

