/**
 * Membership webhooks end to end: events in → the segment processor → segment-memberships → the
 * webhook dispatcher → signed POSTs at a real local HTTP receiver; retries, the delivery log,
 * disabling after repeated failure and re-enabling. Managed through the typed client over HTTP.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookSubscriptions } from "@/db/schema";
import { ApiError, createClient, type Client } from "@/lib/client";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { TOPICS } from "@/lib/topics";
import { verifySignature, type WebhookPayload } from "@/lib/webhooks/webhook";
import { startApiServer, type ApiServer } from "@/test/support/api-server";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: Date;
}

/** A webhook receiver: answers per path with the status `respond` returns. */
async function startReceiver(respond: (path: string, attempt: number) => number) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: new Date() });
      res.writeHead(respond(path, received.filter((r) => r.path === path).length)).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(engineCases)("membership webhooks on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: ApiServer;
  let api: Client;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let downIsUp = false;
  const run = Math.random().toString(36).slice(2, 8);
  const secretKey = `webhook-secret-key-${run}-0123456789abcdef`;

  beforeAll(async () => {
    receiver = await startReceiver((path, attempt) => {
      if (path === "/flaky") return attempt <= 2 ? 500 : 204;
      if (path === "/down") return downIsUp ? 200 : 500;
      return 200;
    });
    env = await openTestRuntime(engine, {
      workers: true,
      env: { WEBHOOK_SECRET_KEY: secretKey },
      webhooks: { pollMs: 50, timeoutMs: 2_000, policy: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 4, disableAfter: 6 } },
    });
    installRuntime(env.rt);
    server = await startApiServer();
    api = createClient({ baseUrl: server.url, apiKey: ADMIN_KEY, validate: true });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    uninstallRuntime();
    await env?.close();
    await receiver?.close();
  });

  // Each test's segment counts an event type of its own, so users of other tests never enter it.
  type EventType = "clicks" | "orders" | "installs";
  async function segment(name: string, eventType: EventType, windowMinutes = 60) {
    const seg = await api.segments.create({ body: { name: `${name} ${run}`, rules: [{ eventType, attribute: "count", operator: "GTE", value: 1, windowMinutes }] } });
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(seg.id, 1), (ok) => ok, "the processor knows the segment");
    return seg;
  }
  const send = (eventType: EventType, userId: string, at = Date.now()) => api.events.ingest({ body: { events: [{ userId, eventType, timestamp: at, attributes: {} }] } });

  it("signs each delivery, retries with the same delivery id, and logs every attempt", async () => {
    const seg = await segment("hooked", "clicks");
    const ok = await api.webhooks.create({ body: { url: `${receiver.url}/ok`, segmentId: seg.id, events: ["enter"], secret: `ok-secret-${run}-abcdef` } });
    const flaky = await api.webhooks.create({ body: { url: `${receiver.url}/flaky`, description: "all segments" } });
    expect(ok.secret).toBe(`ok-secret-${run}-abcdef`);
    expect(flaky.secret).toMatch(/^whsec_[\w-]{40,}$/);
    expect(flaky).toMatchObject({ segmentId: null, events: ["enter", "exit"], enabled: true, secretHint: `…${flaky.secret.slice(-4)}` });

    // The secret is returned once: reads never carry it, and it is encrypted at rest.
    const read = await api.webhooks.get({ params: { webhookId: ok.id } });
    expect(read).not.toHaveProperty("secret");
    expect(JSON.stringify(await api.webhooks.list())).not.toContain(ok.secret);
    const [row] = await env.db.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, ok.id));
    expect(row!.secretCiphertext).toMatch(/^enc:v1:/);
    expect(row!.secretCiphertext).not.toContain(ok.secret);

    const u = `hooked-${run}`;
    await send("clicks", u);
    const [hit] = await eventually(() => receiver.at("/ok"), (l) => l.length >= 1, "the delivery to /ok", 30_000);
    const payload = JSON.parse(hit!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      type: "segment.entered",
      data: { userId: u, segmentId: seg.id, segmentName: `hooked ${run}`, transition: "enter", cause: "event", definitionVersion: 1 },
    });
    expect(hit!.headers["x-am-delivery-id"]).toBe(payload.id);
    expect(hit!.headers["x-am-event"]).toBe("segment.entered");
    expect(hit!.headers["content-type"]).toBe("application/json");
    expect(verifySignature(ok.secret, hit!.body, hit!.headers["x-am-signature"] as string, hit!.at)).toEqual({ ok: true });
    expect(verifySignature(flaky.secret, hit!.body, hit!.headers["x-am-signature"] as string, hit!.at).ok).toBe(false);

    // /flaky answers 500 twice, then 204: three attempts of one delivery, one id, each signed.
    const attempts = await eventually(() => receiver.at("/flaky"), (l) => l.length >= 3, "three attempts at /flaky", 30_000);
    expect(new Set(attempts.map((a) => a.headers["x-am-delivery-id"])).size).toBe(1);
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    expect(attempts.map((a) => a.headers["x-am-attempt"])).toEqual(["1", "2", "3"]);
    for (const a of attempts) expect(verifySignature(flaky.secret, a.body, a.headers["x-am-signature"] as string, a.at)).toEqual({ ok: true });
    const log = await eventually(
      async () => (await api.webhooks.deliveries({ params: { webhookId: flaky.id } })).data,
      (d) => d[0]?.status === "delivered",
      "the flaky delivery recorded as delivered",
    );
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: attempts[0]!.headers["x-am-delivery-id"], userId: u, event: "enter", attempts: 3, lastResponseCode: 204, lastError: null });
    expect(log[0]!.attemptLog.map((a) => a.responseCode)).toEqual([500, 500, 204]);
    expect((await api.webhooks.get({ params: { webhookId: flaky.id } })).consecutiveFailures).toBe(0);

    // A transition delivered again on segment-memberships (at least once) adds no delivery.
    const transition = { id: payload.data.transitionId, userId: u, segmentId: seg.id, kind: "enter", at: Date.parse(payload.data.at), cause: "event", version: 1 };
    await env.log.append(TOPICS.segmentMemberships, [{ key: u, value: JSON.stringify(transition) }]);
    await env.rt.webhooks!.idle();
    expect(receiver.at("/ok")).toHaveLength(1);
    expect((await api.webhooks.deliveries({ params: { webhookId: ok.id } })).data).toHaveLength(1);
  }, 90_000);

  it("an exit is delivered to subscribers of exits", async () => {
    const seg = await segment("leaving", "orders", 1);
    const hook = await api.webhooks.create({ body: { url: `${receiver.url}/exits`, segmentId: seg.id, events: ["exit"] } });
    // Clicked 57 s ago: leaves the 1-minute window about 3 s from now, with no new event.
    await send("orders", `leaver-${run}`, Date.now() - 57_000);
    const [hit] = await eventually(() => receiver.at("/exits"), (l) => l.length >= 1, "the exit delivery", 30_000);
    expect(JSON.parse(hit!.body)).toMatchObject({ type: "segment.exited", data: { userId: `leaver-${run}`, transition: "exit", cause: "time" } });
    expect(verifySignature(hook.secret, hit!.body, hit!.headers["x-am-signature"] as string, hit!.at)).toEqual({ ok: true });
  }, 60_000);

  it("repeated failures fail the deliveries and disable the subscription with a reason; enabling resumes", async () => {
    const seg = await segment("down", "installs");
    const down = await api.webhooks.create({ body: { url: `${receiver.url}/down`, segmentId: seg.id, events: ["enter"] } });
    // One delivery: 4 attempts (maxAttempts), then failed; 4 failures in a row do not disable yet.
    await send("installs", `down-a-${run}`);
    const [first] = await eventually(
      async () => (await api.webhooks.deliveries({ params: { webhookId: down.id } })).data,
      (d) => d[0]?.status === "failed",
      "the first delivery failed after its attempts",
      30_000,
    );
    expect(first).toMatchObject({ userId: `down-a-${run}`, attempts: 4, lastResponseCode: 500, lastError: "HTTP 500", nextAttemptAt: null });
    expect(first!.attemptLog.map((a) => a.responseCode)).toEqual([500, 500, 500, 500]);
    expect(await api.webhooks.get({ params: { webhookId: down.id } })).toMatchObject({ enabled: true, consecutiveFailures: 4 });

    // The next delivery's second failure is the 6th in a row: the subscription is disabled.
    await send("installs", `down-b-${run}`);
    const disabled = await eventually(() => api.webhooks.get({ params: { webhookId: down.id } }), (w) => !w.enabled, "the subscription disabled", 30_000);
    expect(disabled.consecutiveFailures).toBe(6);
    expect(disabled.disabledReason).toMatch(/^disabled after 6 consecutive failed deliveries \(last: HTTP 500\)/);
    expect(disabled.disabledAt).not.toBeNull();
    const log = (await api.webhooks.deliveries({ params: { webhookId: down.id } })).data;
    expect(log.map((d) => [d.userId, d.status, d.attempts])).toEqual([
      [`down-b-${run}`, "pending", 2],
      [`down-a-${run}`, "failed", 4],
    ]);
    const failedOnly = await api.webhooks.deliveries({ params: { webhookId: down.id }, query: { status: "failed" } });
    expect(failedOnly.data.map((d) => d.userId)).toEqual([`down-a-${run}`]);

    // Disabled: nothing more is attempted.
    const before = receiver.at("/down").length;
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at("/down")).toHaveLength(before);

    // The receiver is fixed and the subscription enabled: the waiting delivery goes out.
    downIsUp = true;
    const enabled = await api.webhooks.update({ params: { webhookId: down.id }, body: { enabled: true } });
    expect(enabled).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null, disabledAt: null });
    await eventually(
      async () => (await api.webhooks.deliveries({ params: { webhookId: down.id } })).data.map((d) => d.status).sort(),
      (s) => s.join() === "delivered,failed",
      "the pending delivery delivered after enabling",
    );
  }, 90_000);

  it("validates input, refuses writes without the write scope, and deletes with the log", async () => {
    const bad = await api.webhooks.create({ body: { url: "https://example.com/x", segmentId: "6f1c3c9e-7f43-4c55-9d58-5b0a2f3d1e77" } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).details).toMatchObject({ field: "segmentId", reason: "unknown or deleted segment" });
    const badUrl = await api.webhooks.create({ body: { url: "file:///etc/passwd" } }).catch((e: unknown) => e);
    expect((badUrl as ApiError).details.field).toBe("url");

    const readKey = (await api.admin.createApiKey({ body: { name: `webhook reader ${run}`, scopes: ["read"] } })).key;
    const reader = createClient({ baseUrl: server.url, apiKey: readKey });
    const refused = await reader.webhooks.create({ body: { url: "https://example.com/x" } }).catch((e: unknown) => e);
    expect((refused as ApiError).status).toBe(403);
    expect((await reader.webhooks.list()).data.length).toBeGreaterThan(0);

    const hook = await api.webhooks.create({ body: { url: "https://example.com/x" } });
    const rotated = await api.webhooks.update({ params: { webhookId: hook.id }, body: { secret: `rotated-secret-${run}-xyz` } });
    expect(rotated.secret).toBe(`rotated-secret-${run}-xyz`);
    expect(rotated.secretHint).toBe("…-xyz");
    await api.webhooks.delete({ params: { webhookId: hook.id } });
    const gone = await api.webhooks.get({ params: { webhookId: hook.id } }).catch((e: unknown) => e);
    expect((gone as ApiError).status).toBe(404);
  });
});
