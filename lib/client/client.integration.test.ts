/** The typed client against the real handlers over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { startApiServer, type ApiServer } from "@/test/support/api-server";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { ApiError, createClient, type Client } from "./index";

describe.each(engineCases)("typed client on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: ApiServer;
  let api: Client;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
    server = await startApiServer();
    api = createClient({ baseUrl: server.url, apiKey: ADMIN_KEY, validate: true });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    uninstallRuntime();
    await env?.close();
  });

  it("round-trips a resource: create, read with query and path params, update, delete (204 → undefined)", async () => {
    const created = await api.segments.create({ body: { name: `client ${run}`, rules: [{ eventType: "orders", attribute: "sum", operator: "GTE", value: 50, windowMinutes: 120 }] } });
    expect(created).toMatchObject({ name: `client ${run}`, type: "INDEPENDENT", version: 1 });
    const listed = await api.segments.list({ query: { search: `client ${run}`, pageSize: 5 } });
    expect(listed.data.map((s) => s.id)).toEqual([created.id]);
    expect(listed.pagination).toMatchObject({ pageSize: 5, total: 1 });
    const updated = await api.segments.setStatus({ params: { segmentId: created.id }, body: { active: false } });
    expect(updated.active).toBe(false);
    expect(await api.segments.delete({ params: { segmentId: created.id } })).toBeUndefined();
  });

  it("encodes path parameters", async () => {
    const userId = `user with/slash ${run}`;
    const put = await api.users.putProfile({ params: { userId }, body: { email: "x@example.com" } });
    expect(put.userId).toBe(userId);
    expect((await api.users.getProfile({ params: { userId } })).email).toBe("x@example.com");
  });

  it("throws ApiError with the seed's error format", async () => {
    const e = (await api.segments.create({ body: { name: "x", rules: [] } }).catch((err: unknown) => err)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe("VALIDATION_ERROR");
    expect(e.details.field).toBe("rules");
    expect(e.traceId).toMatch(/\S{8,}/);
    const anonymous = createClient({ baseUrl: server.url });
    const unauthorized = (await anonymous.segments.list().catch((err: unknown) => err)) as ApiError;
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.code).toBe("UNAUTHORIZED");
    // A public operation needs no key.
    expect((await anonymous.events.health()).status).toBe("ok");
  });

  it("validate: an answer that does not match its documented schema is an error", async () => {
    const lying = createClient({
      baseUrl: server.url,
      validate: true,
      fetch: async () => new Response(JSON.stringify({ status: "fine" }), { status: 200, headers: { "content-type": "application/json" } }),
    });
    await expect(lying.events.health()).rejects.toThrow();
  });

  it("serves the OpenAPI document it is generated from", async () => {
    const doc = (await api.openapi.document()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/api/v1/webhooks/{webhookId}/deliveries");
  });
});
