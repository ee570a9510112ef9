import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFastPath } from "@/lib/http/fast-path";
import { CLIENT_IP_HEADER } from "@/lib/http/client-ip";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { hashApiKey } from "@/lib/services/auth";
import * as userSegments from "@/app/api/v1/users/[userId]/segments/route";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { call } from "@/test/support/http";

/**
 * The fast path must answer exactly as the Next route does: the same handler is called both
 * ways — as Next calls it (test/support/http.ts: a Request and a params promise) and through
 * createFastPath behind a real node:http server (as server.ts wires it) — and the answers are
 * compared field by field, failures included.
 */
describe.each(engineCases)("fast path for GET /api/v1/users/{id}/segments on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: Server;
  let port = 0;
  let leftToNext: string[] = [];
  const run = Math.random().toString(36).slice(2, 8);
  const ingestKey = `ingest-only-key-${run}-0123456789`;

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
    await env.rt.apiKeys.create({ name: "ingest only", keyHash: hashApiKey(ingestKey), prefix: ingestKey.slice(0, 8), scopes: ["ingest"], createdBy: "test", at: new Date() });
    const fast = createFastPath([{ method: "GET", path: "/api/v1/users/[userId]/segments", handler: userSegments.GET }], (e) => {
      throw e;
    });
    server = createServer((req, res) => {
      req.headers[CLIENT_IP_HEADER] = "127.0.0.1";
      if (fast.handle(req, res)) return;
      leftToNext.push(`${req.method} ${req.url}`);
      res.writeHead(599).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    uninstallRuntime();
    await env?.close();
  });

  const viaHttp = (method: string, path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null });
        });
      });
      req.on("error", reject);
      req.end();
    });

  /** The same request both ways; answers must match but for the error timestamp. */
  async function same(userId: string, key: string | null, extra: Record<string, string> = {}) {
    const headers: Record<string, string> = { "x-request-id": `trace-${run}-${Math.random().toString(36).slice(2, 10)}`, ...extra };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const fast = await viaHttp("GET", `/api/v1/users/${encodeURIComponent(userId)}/segments`, headers);
    const next = await call(userSegments.GET, "GET", { params: { userId }, key: null, headers: { ...headers, [CLIENT_IP_HEADER]: "127.0.0.1" } });
    const strip = (b: any) => (b?.error ? { ...b, error: { ...b.error, timestamp: typeof b.error.timestamp } } : b);
    expect(fast.status).toBe(next.status);
    expect(strip(fast.body)).toEqual(strip(next.body));
    expect(fast.headers["content-type"]).toBe(next.headers.get("content-type"));
    expect(fast.headers["x-trace-id"]).toBe(headers["x-request-id"]);
    expect(next.headers.get("x-trace-id")).toBe(headers["x-request-id"]);
    return fast;
  }

  it("answers a member's segments, an unknown user's empty list and odd ids exactly like the route", async () => {
    const created = await call(segmentsRoute.POST, "POST", {
      body: { name: `fast ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    expect(created.status).toBe(201);
    const userId = `fast/user ${run} ü`;
    await env.rt.memberships.apply([{ userId, segmentId: created.body.id, kind: "enter", at: Date.UTC(2026, 10, 24), cause: "event", version: 1 }]);
    const member = await same(userId, ADMIN_KEY);
    expect(member.status).toBe(200);
    expect(member.body).toEqual({
      userId,
      segments: [{ segmentId: created.body.id, name: `fast ${run}`, enteredAt: "2026-11-24T00:00:00.000Z", version: 1 }],
    });
    expect((await same(`nobody-${run}`, ADMIN_KEY)).body).toEqual({ userId: `nobody-${run}`, segments: [] });
    expect((await same("x".repeat(257), ADMIN_KEY)).status).toBe(400);
  });

  it("refuses exactly like the route: 401 without or with a wrong key, 403 without the read scope", async () => {
    const missing = await same(`u-${run}`, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("UNAUTHORIZED");
    expect((await same(`u-${run}`, "not-a-key-at-all-0123456789")).status).toBe(401);
    expect((await same(`u-${run}`, null, { authorization: "Basic abc" })).status).toBe(401);
    const forbidden = await same(`u-${run}`, ingestKey);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("FORBIDDEN");
  });

  it("leaves every other request to Next", async () => {
    leftToNext = [];
    const headers = { authorization: `Bearer ${ADMIN_KEY}` };
    for (const [method, path] of [
      ["POST", "/api/v1/users/u/segments"],
      ["HEAD", "/api/v1/users/u/segments"],
      ["GET", "/api/v1/users/u/segments/"],
      ["GET", "/api/v1/users/u/segments/history"],
      ["GET", "/api/v1/users//segments"],
      ["GET", "/api/v1/users/%E0%A4%A/segments"],
      ["GET", "/api/v1/users/u/profile"],
      ["GET", "/users/u/segments"],
    ] as const) {
      expect((await viaHttp(method, path, headers)).status).toBe(599);
    }
    expect(leftToNext).toHaveLength(8);
    expect((await viaHttp("GET", "/api/v1/users/u/segments?x=1", headers)).status).toBe(200);
  });
});
