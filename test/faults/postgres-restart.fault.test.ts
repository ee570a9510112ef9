/**
 * PostgreSQL stops (fast shutdown: every connection is cut) while the platform serves, and
 * comes back a few seconds later. Nothing is restarted by hand:
 * - during the outage, reads that need the database answer 503 in the seed's error format (no
 *   500, no hang), readiness says not ready, and ingestion, which needs only Kafka, keeps
 *   acknowledging;
 * - afterwards the same web process answers 200 again and the same segment processor evaluates
 *   everything acknowledged before, during and after the outage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, cartEvents, cartSegment, isSeedError, members, openDeployment, startServer, startWorkerProcess, until, type Deployment, type Proc } from "./support";
import { services } from "./services";

const PORT = Number(process.env.FAULTS_PG_TEST_PORT ?? 3113);

describe("PostgreSQL restarted under the running platform", () => {
  let dep: Deployment;
  let web: Proc & { url: string };
  let processor: Proc;

  beforeAll(async () => {
    dep = await openDeployment("pg");
    [web, processor] = await Promise.all([
      startServer(dep.env, PORT),
      startWorkerProcess("workers/segment-processor/main.ts", dep.env, "segment processor started"),
    ]);
  }, 240_000);

  afterAll(async () => {
    await services("up", "pg");
    await web?.stop();
    await processor?.stop();
    await dep?.cleanup();
  }, 120_000);

  it("answers 503 during the outage and recovers by itself, the processor included", async () => {
    const segmentId = await cartSegment(web.url, dep.db, `carts ${dep.tag}`);
    const acked = new Set<string>();
    const ingest = async (userId: string) => {
      const r = await api(web.url, "POST", "/api/v1/events", { events: cartEvents(userId) });
      if (r.status === 202) acked.add(userId);
      return r;
    };
    for (let i = 0; i < 20; i++) expect((await ingest(`${dep.tag}-before-${i}`)).status).toBe(202);
    await until(() => members(dep.db, segmentId), (m) => [...acked].every((u) => m.has(u)), "the first users to be evaluated", 60_000);
    // The test's own pool loses its connections too; it reconnects by itself afterwards.

    const down = Date.now();
    await services("down", "pg");
    const during: { what: string; status: number; body: unknown; ms: number }[] = [];
    const probe = async (what: string, call: () => Promise<{ status: number; body: unknown }>) => {
      const t = Date.now();
      const r = await call();
      during.push({ what, status: r.status, body: r.body, ms: Date.now() - t });
    };
    // Long enough for the processor to fail writes and back off a few times.
    for (let i = 0; i < 5 || Date.now() - down < 8_000; i++) {
      await probe("list segments", () => api(web.url, "GET", "/api/v1/segments"));
      await probe("get segment", () => api(web.url, "GET", `/api/v1/segments/${segmentId}`));
      await probe("create segment", () => api(web.url, "POST", "/api/v1/segments", { name: `during ${i} ${dep.tag}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 5 }] }));
      await probe("ready", () => fetch(`${web.url}/api/health/ready`).then(async (r) => ({ status: r.status, body: await r.json() })));
      await probe("ingest", () => ingest(`${dep.tag}-during-${i}`));
      await new Promise((r) => setTimeout(r, 500));
    }
    await services("up", "pg");
    const upAt = Date.now();

    const summary = during.map((d) => `${d.what} ${d.status} ${d.ms}ms`);
    for (const d of during) {
      if (d.what === "ingest") {
        // Ingestion needs Kafka only; with an API key of the environment, no database either.
        expect(d.status, summary.join(", ")).toBe(202);
      } else {
        expect(d.status, `${d.what}: ${JSON.stringify(d.body)}`).toBe(503);
        if (d.what !== "ready") {
          expect(isSeedError(d.body), JSON.stringify(d.body)).toBe(true);
          expect((d.body as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");
        }
      }
      expect(d.ms, `${d.what} took ${d.ms} ms during the outage`).toBeLessThan(10_000);
    }

    // Recovery without a restart: the same processes serve and evaluate again.
    await until(
      () => api(web.url, "GET", "/api/v1/segments").then((r) => r.status),
      (s) => s === 200,
      "the API to answer 200 again",
      60_000,
    );
    const recoveredMs = Date.now() - upAt;
    // Readiness caches its checks for a second.
    await until(() => fetch(`${web.url}/api/health/ready`).then((r) => r.status), (s) => s === 200, "readiness to recover", 10_000);
    for (let i = 0; i < 20; i++) expect((await ingest(`${dep.tag}-after-${i}`)).status).toBe(202);
    const created = await api(web.url, "POST", "/api/v1/segments", { name: `after ${dep.tag}`, rules: [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 2, windowMinutes: 60 }] });
    expect(created.status).toBe(201);

    const got = await until(
      () => members(dep.db, segmentId).catch(() => new Set<string>()),
      (m) => [...acked].every((u) => m.has(u)),
      "every acknowledged user to be evaluated after the restart",
      90_000,
      (m) => `${[...acked].filter((u) => !m.has(u)).length} of ${acked.size} missing`,
    );
    await until(
      () => members(dep.db, created.body.id).catch(() => new Set<string>()),
      (m) => [...acked].every((u) => m.has(u)),
      "a segment created after the restart to be evaluated",
      60_000,
    );
    expect(web.alive() && processor.alive()).toBe(true);
    console.log(
      `[faults] postgres restart: down ${((upAt - down) / 1000).toFixed(1)} s, ${during.length} calls during it ` +
        `(${during.filter((d) => d.status === 503).length} × 503, ${during.filter((d) => d.status === 202).length} × 202 ingestion), ` +
        `API 200 again ${(recoveredMs / 1000).toFixed(1)} s after it was up; ${acked.size} acknowledged users, ` +
        `${[...acked].filter((u) => !got.has(u)).length} lost`,
    );
  }, 240_000);
});
