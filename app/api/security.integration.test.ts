import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey, type JWTPayload } from "jose";
import { createJwtVerifier } from "@/lib/auth/jwt";
import { CLIENT_IP_HEADER } from "@/lib/http/client-ip";
import type { NextRouteHandler } from "@/lib/http/route";
import { startMetricsServer } from "@/lib/metrics/server";
import { installRuntime, uninstallRuntime, type Runtime } from "@/lib/runtime";
import { EventLogUnavailableError } from "@/lib/ports/event-log";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { expectSeedError } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as segments from "./v1/segments/route";
import * as events from "./v1/events/route";
import * as live from "./health/live/route";
import * as ready from "./health/ready/route";
import * as metricsRoute from "./metrics/route";
import * as userSegments from "./v1/users/[userId]/segments/route";

const ISSUER = "https://idp.example.test/";
const AUDIENCE = "audience-manager";

interface Sent {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/** Calls a handler as Next would, at a real path (the metrics label requests by route pattern). */
async function send(
  handler: NextRouteHandler,
  method: string,
  path: string,
  options: { auth?: string | null; body?: unknown; rawBody?: BodyInit; headers?: Record<string, string>; params?: Record<string, string> } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? ADMIN_KEY : options.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const init: RequestInit & { duplex?: "half" } = { method, headers, body };
  if (body instanceof ReadableStream) init.duplex = "half";
  const res = await handler(new Request(`http://localhost${path}`, init), { params: Promise.resolve(options.params ?? {}) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** The value of one sample in Prometheus exposition text (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

const event = (userId: string, eventType = "clicks") => ({ userId, eventType, timestamp: Date.now() - 1_000, attributes: {} });

describe.each(engineCases)("API security and operations on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let withJwt: Runtime;
  const run = Math.random().toString(36).slice(2, 8);
  const variant = (patch: Partial<Runtime["env"]>, extra: Partial<Runtime> = {}): Runtime => ({ ...env.rt, env: { ...env.rt.env, ...patch }, ...extra });

  const token = (claims: JWTPayload, signWith: CryptoKey = key) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer((claims.iss as string) ?? ISSUER)
      .setAudience((claims.aud as string) ?? AUDIENCE)
      .setSubject(claims.sub ?? `svc-${run}`)
      .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(signWith);

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    const pair = await generateKeyPair("RS256", { extractable: true });
    key = pair.privateKey;
    otherKey = (await generateKeyPair("RS256")).privateKey;
    const jwt = await createJwtVerifier({ publicKeys: await exportSPKI(pair.publicKey), issuer: ISSUER, audience: [AUDIENCE], clockToleranceSeconds: 0 });
    withJwt = { ...env.rt, jwt };
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  describe("JWT bearer tokens", () => {
    beforeAll(() => installRuntime(withJwt));

    it("authorise by their scope claim: read lists, ingest ingests, a missing scope is 403", async () => {
      const reader = await token({ scope: "read" });
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: reader })).status).toBe(200);
      const denied = await send(segments.POST, "POST", "/api/v1/segments", {
        auth: reader,
        body: { name: `jwt-${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 5 }] },
      });
      expect(denied.status).toBe(403);
      expectSeedError(denied.body, "FORBIDDEN", "Authorization");
      expect(denied.body.error.details.reason).toBe("requires scope 'write'");

      const ingester = await token({ scp: ["ingest"] });
      const accepted = await send(events.POST, "POST", "/api/v1/events", { auth: ingester, body: { events: [event(`jwt-${run}`)] } });
      expect(accepted.status).toBe(202);
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: ingester })).status).toBe(403);
      const admin = await token({ scopes: ["admin"] });
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: admin })).status).toBe(200);
    });

    it("answer 401 in the seed's format when expired, from another issuer or audience, or signed by another key", async () => {
      const cases: [string, string][] = [
        [await token({ exp: Math.floor(Date.now() / 1000) - 5 }), "token expired"],
        [await token({ iss: "https://elsewhere.test/" }), "wrong issuer"],
        [await token({ aud: "another-api" }), "wrong audience"],
        [await token({}, otherKey), "signature does not verify"],
        ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "signature does not verify"],
      ];
      for (const [jwt, reason] of cases) {
        const res = await send(segments.GET, "GET", "/api/v1/segments", { auth: jwt });
        expect(res.status, reason).toBe(401);
        expectSeedError(res.body, "UNAUTHORIZED", "Authorization");
        expect(res.body.error.details.reason).toBe(reason);
        expect(res.headers.get("www-authenticate")).toContain("invalid_token");
      }
    });

    it("are refused where JWT auth is not configured, while API keys keep working", async () => {
      installRuntime(env.rt);
      const res = await send(segments.GET, "GET", "/api/v1/segments", { auth: await token({ scope: "read" }) });
      expect(res.status).toBe(401);
      expect(res.body.error.details.reason).toBe("JWT bearer tokens are not accepted here");
      expect((await send(segments.GET, "GET", "/api/v1/segments")).status).toBe(200);
      installRuntime(withJwt);
    });
  });

  describe("rate limits", () => {
    it("per credential: a burst, then 429 with Retry-After; ingestion has its own budget; other callers unaffected", async () => {
      installRuntime(
        variant({ RATE_LIMIT_PER_KEY: 1, RATE_LIMIT_PER_KEY_BURST: 3, RATE_LIMIT_INGEST_PER_KEY: 1, RATE_LIMIT_INGEST_PER_KEY_BURST: 2, RATE_LIMIT_PER_IP: 0 }, { jwt: withJwt.jwt }),
      );
      for (let i = 0; i < 3; i++) expect((await send(segments.GET, "GET", "/api/v1/segments")).status).toBe(200);
      const limited = await send(segments.GET, "GET", "/api/v1/segments");
      expect(limited.status).toBe(429);
      expectSeedError(limited.body, "RATE_LIMITED", "Authorization");
      expect(limited.headers.get("retry-after")).toBe("1");
      // Same key, ingestion budget.
      for (let i = 0; i < 2; i++) {
        expect((await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(`rl-${run}`)] } })).status).toBe(202);
      }
      const ingestLimited = await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(`rl-${run}`)] } });
      expect(ingestLimited.status).toBe(429);
      expect(ingestLimited.body.error.details.reason).toBe("more than 1 requests/s of ingestion for this credential");
      // Another caller has its own bucket.
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: await token({ scope: "read", sub: `other-${run}` }) })).status).toBe(200);
      // A token per second comes back.
      await new Promise((r) => setTimeout(r, 1_050));
      expect((await send(segments.GET, "GET", "/api/v1/segments")).status).toBe(200);
    });

    it("per client IP, before authentication (bad keys are throttled too); health probes are exempt", async () => {
      installRuntime(variant({ RATE_LIMIT_PER_IP: 1, RATE_LIMIT_PER_IP_BURST: 2, RATE_LIMIT_PER_KEY: 0 }));
      const from = (ip: string) => ({ [CLIENT_IP_HEADER]: ip });
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: "wrong-key-0123456789", headers: from("192.0.2.1") })).status).toBe(401);
      expect((await send(segments.GET, "GET", "/api/v1/segments", { headers: from("192.0.2.1") })).status).toBe(200);
      const limited = await send(segments.GET, "GET", "/api/v1/segments", { headers: from("192.0.2.1") });
      expect(limited.status).toBe(429);
      expectSeedError(limited.body, "RATE_LIMITED", "client");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await send(segments.GET, "GET", "/api/v1/segments", { auth: "another-wrong-key-0123", headers: from("192.0.2.1") })).status).toBe(429);
      expect((await send(segments.GET, "GET", "/api/v1/segments", { headers: from("192.0.2.2") })).status).toBe(200);
      expect((await send(live.GET, "GET", "/api/health/live", { auth: null, headers: from("192.0.2.1") })).status).toBe(200);
    });
  });

  describe("body size", () => {
    beforeAll(() => installRuntime(variant({ MAX_BODY_BYTES: 2048 })));

    it("refuses a body over MAX_BODY_BYTES with 413, declared or streamed, and reads one under it", async () => {
      const big = JSON.stringify({ events: [{ ...event(`big-${run}`), attributes: { pad: "x".repeat(3000) } }] });
      const declared = await send(events.POST, "POST", "/api/v1/events", { rawBody: big, headers: { "content-length": String(Buffer.byteLength(big)) } });
      expect(declared.status).toBe(413);
      expectSeedError(declared.body, "PAYLOAD_TOO_LARGE", "body");
      // No Content-Length: counted while streaming.
      const chunks = [big.slice(0, 1000), big.slice(1000, 2000), big.slice(2000)];
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      });
      const streamed = await send(events.POST, "POST", "/api/v1/events", { rawBody: stream });
      expect(streamed.status).toBe(413);
      expectSeedError(streamed.body, "PAYLOAD_TOO_LARGE", "body");
      expect((await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(`small-${run}`)] } })).status).toBe(202);
    });
  });

  describe("health", () => {
    it("live: the process answers, without credentials", async () => {
      installRuntime(env.rt);
      const res = await send(live.GET, "GET", "/api/health/live", { auth: null });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: "live", pid: process.pid, uptimeSeconds: expect.any(Number) });
    });

    it("ready: 200 with each dependency up; 503 in the seed's format naming the one down", async () => {
      installRuntime(env.rt);
      const ok = await send(ready.GET, "GET", "/api/health/ready", { auth: null });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({
        status: "ready",
        checks: {
          database: { status: "up", latencyMs: expect.any(Number) },
          eventLog: { status: "up", latencyMs: expect.any(Number) },
          memberships: { status: "up", latencyMs: expect.any(Number) },
        },
      });

      const brokenLog = {
        ...env.rt.eventLog,
        ensureTopics: async () => {
          throw new EventLogUnavailableError("broker 10.9.9.9:9092 unreachable");
        },
        append: env.rt.eventLog.append.bind(env.rt.eventLog),
        subscribe: env.rt.eventLog.subscribe.bind(env.rt.eventLog),
        close: async () => {},
      };
      installRuntime({ ...env.rt, eventLog: brokenLog });
      const down = await send(ready.GET, "GET", "/api/health/ready", { auth: null });
      expect(down.status).toBe(503);
      expectSeedError(down.body, "SERVICE_UNAVAILABLE", "eventLog");
      expect(down.body.error.details.checks.eventLog).toEqual({ status: "down", latencyMs: expect.any(Number), reason: "the probe failed" });
      expect(down.body.error.details.checks.database.status).toBe("up");
      expect(down.text).not.toContain("10.9.9.9");

      installRuntime({ ...env.rt, db: { ...env.rt.db, exec: async () => Promise.reject(Object.assign(new Error("terminating connection"), { code: "57P01" })) } });
      const dbDown = await send(ready.GET, "GET", "/api/health/ready", { auth: null });
      expect(dbDown.status).toBe(503);
      expect(dbDown.body.error.details.field).toBe("database");
      expect(dbDown.body.error.details.checks.memberships.status).toBe("up");
      installRuntime(env.rt);
    });
  });

  describe("metrics", () => {
    it("GET /api/metrics: 401 without credentials, 403 without admin, 200 for admin or METRICS_TOKEN", async () => {
      installRuntime(variant({ METRICS_TOKEN: "metrics-token-0123456789" }, { jwt: withJwt.jwt }));
      const none = await send(metricsRoute.GET, "GET", "/api/metrics", { auth: null });
      expect(none.status).toBe(401);
      expectSeedError(none.body, "UNAUTHORIZED");
      expect((await send(metricsRoute.GET, "GET", "/api/metrics", { auth: "metrics-token-wrong-0000" })).status).toBe(401);
      const reader = await send(metricsRoute.GET, "GET", "/api/metrics", { auth: await token({ scope: "read" }) });
      expect(reader.status).toBe(403);
      expectSeedError(reader.body, "FORBIDDEN");
      const admin = await send(metricsRoute.GET, "GET", "/api/metrics");
      expect(admin.status).toBe(200);
      expect(admin.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const byToken = await send(metricsRoute.GET, "GET", "/api/metrics", { auth: "metrics-token-0123456789" });
      expect(byToken.status).toBe(200);
      expect(byToken.text).toContain("# TYPE audience_http_request_duration_seconds histogram");
    });

    it("counts HTTP latency by route pattern and status, events ingested and rejected", async () => {
      installRuntime(env.rt);
      const scrape = async () => (await send(metricsRoute.GET, "GET", "/api/metrics")).text;
      const before = await scrape();
      const user = `metrics-${run}`;
      await send(userSegments.GET, "GET", `/api/v1/users/${user}/segments`, { params: { userId: user } });
      await send(userSegments.GET, "GET", `/api/v1/users/${user}/segments`, { params: { userId: user }, auth: null });
      expect((await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(user), event(user, "orders")] } })).status).toBe(202);
      expect((await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(user), event(user), { userId: user }] } })).status).toBe(400);
      const after = await scrape();
      const count = (text: string, labels: Record<string, string>) => sample(text, "audience_http_request_duration_seconds_count", labels);
      const route = "/api/v1/users/[userId]/segments";
      expect(count(after, { method: "GET", route, status: "200" }) - count(before, { method: "GET", route, status: "200" })).toBe(1);
      expect(count(after, { method: "GET", route, status: "401" }) - count(before, { method: "GET", route, status: "401" })).toBe(1);
      expect(after).not.toContain(`route="/api/v1/users/${user}`);
      const ingested = (t: string) => sample(t, "audience_events_ingested_total", { source: "rest" });
      expect(ingested(after) - ingested(before)).toBe(2);
      const invalid = (t: string) => sample(t, "audience_events_rejected_total", { source: "rest", reason: "invalid" });
      expect(invalid(after) - invalid(before)).toBe(3);
    });

    it("a metrics port serves GET /metrics, behind the token when one is set", async () => {
      const server = await startMetricsServer({ port: 0, host: "127.0.0.1", token: "metrics-token-0123456789" });
      try {
        const url = `http://127.0.0.1:${server.port}`;
        const refused = await fetch(`${url}/metrics`);
        expect(refused.status).toBe(401);
        expectSeedError(await refused.json(), "UNAUTHORIZED");
        const ok = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer metrics-token-0123456789" } });
        expect(ok.status).toBe(200);
        expect(await ok.text()).toContain("audience_events_ingested_total");
        expect((await fetch(`${url}/other`)).status).toBe(404);
      } finally {
        await server.close();
      }
    });
  });
});

describe.each(engineCases)("pipeline metrics on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    env = await openTestRuntime(engine, { workers: true });
    installRuntime(env.rt);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("counts transitions, evaluation latency and consumer lag of the processor and the dispatcher", async () => {
    const scrape = async () => (await send(metricsRoute.GET, "GET", "/api/metrics")).text;
    const created = await send(segments.POST, "POST", "/api/v1/segments", {
      body: { name: `metrics-${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    expect(created.status).toBe(201);
    const segmentId = created.body.id as string;
    await eventually(async () => env.rt.processor!.hasDefinition(segmentId, 1), (ok) => ok, "definition");
    const before = await scrape();
    const user = `pm-${run}`;
    expect((await send(events.POST, "POST", "/api/v1/events", { body: { events: [event(user)] } })).status).toBe(202);
    await eventually(async () => (await env.rt.memberships.segmentsOf(user)).length, (n) => n === 1, "membership");
    await env.rt.processor!.idle();
    await env.rt.dispatcher!.idle();
    const after = await eventually(scrape, (t) => sample(t, "audience_consumer_lag_messages", { consumer: "campaign-dispatcher", topic: "segment-memberships" }) === 0 && t.includes('consumer="campaign-dispatcher",topic="segment-memberships"'), "dispatcher lag");

    const entered = (t: string) => sample(t, "audience_segment_transitions_total", { kind: "enter", cause: "event" });
    expect(entered(after) - entered(before)).toBeGreaterThanOrEqual(1);
    const evaluated = (t: string) => sample(t, "audience_evaluation_latency_seconds_count");
    expect(evaluated(after) - evaluated(before)).toBeGreaterThanOrEqual(1);
    // Evaluated well within a minute of its append.
    const withinMinute = (t: string) => sample(t, "audience_evaluation_latency_seconds_bucket", { le: "60" });
    expect(withinMinute(after) - withinMinute(before)).toBe(evaluated(after) - evaluated(before));
    // Caught up: a lag sample per owned user-events partition, all 0.
    const lagLines = after.split("\n").filter((l) => l.startsWith('audience_consumer_lag_messages{consumer="segment-processor",topic="user-events"'));
    expect(lagLines.length).toBeGreaterThanOrEqual(1);
    for (const line of lagLines) expect(line.endsWith(" 0")).toBe(true);
    expect(sample(after, "audience_consumer_batch_duration_seconds_count", { consumer: "segment-processor", topic: "user-events" })).toBeGreaterThanOrEqual(1);
  });
});
