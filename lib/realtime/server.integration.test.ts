import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { encode } from "next-auth/jwt";
import { createSegment, deleteSegment } from "@/lib/services/segments";
import { ingestEvents } from "@/lib/services/ingest";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { startRealtime, type RealtimeServer } from "./server";

type Msg = { type: string; [k: string]: any };

/** A client that records every message; `next` waits for one matching a predicate. */
async function connect(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const messages: Msg[] = [];
  let closeCode: number | null = null;
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as Msg));
  ws.on("close", (code) => (closeCode = code));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    closeCode: () => closeCode,
    next: (ok: (m: Msg) => boolean, what: string, timeoutMs = 20_000) =>
      eventually(() => messages.find(ok), (m) => m !== undefined, what, timeoutMs) as Promise<Msg>,
  };
}

/** The HTTP status a refused upgrade gets. */
function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => reject(new Error("upgrade unexpectedly accepted")));
    ws.on("error", () => {});
  });
}

describe.each(engineCases)("realtime WebSocket channels on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: Server;
  let realtime: RealtimeServer;
  let base: string;
  const run = Math.random().toString(36).slice(2, 8);
  const ctx = () => ({ actor: "test", traceId: `trace-${run}`, now: new Date() });

  beforeAll(async () => {
    env = await openTestRuntime(engine, { workers: true });
    server = createServer((_req, res) => res.writeHead(404).end());
    realtime = await startRealtime(server, env.rt, {
      timings: { segmentPollMs: 1_000, segmentMinRefreshMs: 200 },
      waitForFeed: true,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    await realtime?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await env?.close();
  });

  it("pushes entries and exits of a segment and its member count as events arrive", async () => {
    const seg = await createSegment(
      env.rt.segmentDeps,
      {
        type: "INDEPENDENT",
        name: `rt cart ${run}`,
        rules: [{ eventType: "addToCart", attribute: "count", field: null, operator: "GTE", value: 2, windowMinutes: 60 }],
      },
      ctx(),
    );
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(seg.id, 1), (ok) => ok, "processor knows the segment");

    const client = await connect(`${base}/ws/segments/${seg.id}/realtime?token=${ADMIN_KEY}`);
    const first = await client.next((m) => m.type === "snapshot", "first snapshot");
    expect(first).toMatchObject({
      segmentId: seg.id,
      segment: { name: `rt cart ${run}`, type: "INDEPENDENT", active: true, version: 1 },
      stats: { currentMembers: 0, entriesLast24h: 0, exitsLast24h: 0 },
    });

    const users = [`a-${run}`, `b-${run}`];
    const now = Date.now();
    await ingestEvents(
      env.rt,
      users.flatMap((userId) => [0, 1].map((i) => ({ userId, eventType: "addToCart", timestamp: now - 1000 + i, attributes: {} }))),
      ctx(),
    );
    const entered = await eventually(
      () => client.messages.filter((m) => m.type === "transition" && m.kind === "enter").map((m) => m.userId).sort(),
      (u) => u.length === 2,
      "two enter transitions",
    );
    expect(entered).toEqual(users.sort());
    expect(client.messages.find((m) => m.type === "transition")).toMatchObject({ segmentId: seg.id, cause: "event", version: 1 });
    await client.next((m) => m.type === "snapshot" && m.stats.currentMembers === 2, "count 2");

    // A second subscriber on the same segment gets the current figures at once.
    const late = await connect(`${base}/ws/segments/${seg.id}/realtime`, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(await late.next((m) => m.type === "snapshot", "late snapshot")).toMatchObject({ stats: { currentMembers: 2, entriesLast24h: 2 } });

    // The user channel: a snapshot with the user's segments, then an exit when it is deleted.
    const user = await connect(`${base}/ws/users/${encodeURIComponent(users[0]!)}/segments?token=${ADMIN_KEY}`);
    const snap = await user.next((m) => m.type === "snapshot", "user snapshot");
    expect(snap.segments).toMatchObject([{ segmentId: seg.id, name: `rt cart ${run}`, version: 1 }]);

    await deleteSegment(env.rt.segmentDeps, seg.id, ctx());
    await env.rt.relay.flush();
    const exit = await user.next((m) => m.type === "transition" && m.kind === "exit", "user exit");
    expect(exit).toMatchObject({ userId: users[0], segmentId: seg.id, segmentName: `rt cart ${run}`, cause: "deleted" });
    await user.next((m) => m.type === "snapshot" && m.segments.length === 0, "user snapshot after exit");
    await client.next((m) => m.type === "deleted", "segment deleted");
    await eventually(() => client.closeCode(), (c) => c === 4404, "closed with 4404");
    user.ws.close();
    late.ws.close();
    await eventually(() => realtime.channels.watchedSegments(), (n) => n === 0, "watchers released");
    await eventually(() => realtime.hub.subscriberCount(), (c) => c.segments === 0 && c.users === 0, "subscriptions released");
  }, 90_000);

  it("authenticates the upgrade: session cookie of any role, same origin only; keys need read", async () => {
    const seg = await createSegment(
      env.rt.segmentDeps,
      { type: "INDEPENDENT", name: `rt auth ${run}`, rules: [{ eventType: "clicks", attribute: "count", field: null, operator: "GTE", value: 1, windowMinutes: 5 }] },
      ctx(),
    );
    const path = `/ws/segments/${seg.id}/realtime`;

    const none = await refusedStatus(`${base}${path}`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error).toMatchObject({ code: "UNAUTHORIZED" });
    expect((await refusedStatus(`${base}${path}?token=not-a-key-at-all`)).status).toBe(401);
    expect((await refusedStatus(`${base}/ws/segments/00000000-0000-4000-8000-000000000000/realtime?token=${ADMIN_KEY}`)).status).toBe(404);
    expect((await refusedStatus(`${base}/ws/segments/nope/realtime?token=${ADMIN_KEY}`)).status).toBe(404);
    expect((await refusedStatus(`${base}/ws/elsewhere?token=${ADMIN_KEY}`)).status).toBe(404);

    const viewer = await env.rt.accountDeps.accounts.create({
      email: `viewer-${run}@example.com`,
      name: "Viewer",
      role: "viewer",
      passwordHash: "unused",
      mustChangePassword: false,
      createdBy: "test",
      at: new Date(),
    });
    const token = await encode({ token: { sub: viewer.id }, secret: env.rt.authSecret });
    const cookie = `next-auth.session-token=${token}`;
    const host = base.replace("ws://", "");

    const viaCookie = await connect(`${base}${path}`, { cookie, origin: `http://${host}` });
    expect(await viaCookie.next((m) => m.type === "snapshot", "snapshot via cookie")).toMatchObject({ segmentId: seg.id });
    viaCookie.ws.close();

    const crossSite = await refusedStatus(`${base}${path}`, { cookie, origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    const forged = await encode({ token: { sub: viewer.id }, secret: "another-secret-of-at-least-32-chars!!" });
    expect((await refusedStatus(`${base}${path}`, { cookie: `next-auth.session-token=${forged}` })).status).toBe(401);
  }, 60_000);
});
