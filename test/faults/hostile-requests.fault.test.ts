/**
 * 10,000 generated malformed or hostile requests (test/faults/hostile.ts) against the running
 * web process over HTTP, spread over every route file of the app (found on disk, like the route
 * walk): no 5xx, no dropped connection, no crash, every error answer in the seed's error format;
 * and the platform still serves correctly afterwards (a segment is created, events are ingested
 * and evaluated, the user's segments are served).
 *
 * FAULTS_SEED reproduces a run (the seed is printed); FAULTS_HOSTILE_REQUESTS changes the count.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanApiRoutes } from "@/lib/http/api-routes";
import { ADMIN_KEY, api, CART_RULE, cartEvents, isSeedError, members, openDeployment, startServer, until, type Deployment, type Proc } from "./support";
import { hostileRequest, prng, type HostileRequest } from "./hostile";
import { ROOT } from "./services";

const PORT = Number(process.env.FAULTS_HOSTILE_PORT ?? 3111);
const COUNT = Number(process.env.FAULTS_HOSTILE_REQUESTS ?? 10_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 12;
/** next-auth speaks its own protocol (redirects, text errors): it must not fail, but its errors are not ours to format. */
const OWN_FORMAT_EXEMPT = "/api/auth/";

interface Failure {
  request: string;
  status: number;
  why: string;
  answer: string;
}

describe(`${COUNT} hostile requests over HTTP`, () => {
  let dep: Deployment;
  let web: Proc & { url: string };

  beforeAll(async () => {
    // One process with the processor inside (as `npm start` runs it), on PostgreSQL + Kafka.
    dep = await openDeployment("hostile", { IN_PROCESS_WORKERS: "true" });
    web = await startServer(dep.env, PORT);
  }, 240_000);

  afterAll(async () => {
    await web?.stop();
    await dep?.cleanup();
  }, 120_000);

  it("answers every one without a 5xx or a dropped connection, errors in the seed's format, and serves correctly afterwards", async () => {
    const segment = await api(web.url, "POST", "/api/v1/segments", { name: `fixture ${dep.tag}`, rules: [CART_RULE] });
    expect(segment.status).toBe(201);
    const campaign = await api(web.url, "POST", "/api/v1/campaigns", {
      name: `fixture ${dep.tag}`, segmentId: segment.body.id, channelType: "email", trigger: "ON_ENTER", subject: "Hi", template: "Hello",
    });
    expect(campaign.status).toBe(201);
    const webhook = await api(web.url, "POST", "/api/v1/webhooks", { url: "https://example.com/hook", events: ["enter"] });
    expect(webhook.status, JSON.stringify(webhook.body)).toBe(201);
    const fixtures = { adminKey: ADMIN_KEY, segmentId: segment.body.id, campaignId: campaign.body.id, webhookId: webhook.body.id };

    const routes = scanApiRoutes(path.join(ROOT, "app"));
    const rng = prng(SEED);
    const requests: HostileRequest[] = Array.from({ length: COUNT }, (_, i) => hostileRequest(rng, i, routes, fixtures));

    const failures: Failure[] = [];
    const statuses = new Map<number, number>();
    const categories = new Map<string, number>();
    const covered = new Set<string>();
    let next = 0;
    const started = Date.now();
    const one = async (r: HostileRequest) => {
      const label = `${r.method} ${r.target.slice(0, 160)} [${r.category}; ${r.route}]`;
      let status = 0;
      let text = "";
      let type = "";
      try {
        const res = await fetch(`${web.url}${r.target}`, {
          method: r.method,
          headers: r.headers,
          body: r.body,
          redirect: "manual",
          signal: AbortSignal.timeout(60_000),
        });
        status = res.status;
        type = res.headers.get("content-type") ?? "";
        text = await res.text();
      } catch (error) {
        const e = error as Error & { cause?: { code?: string; message?: string } };
        failures.push({ request: label, status: 0, why: "no answer", answer: `${e.message} ${e.cause?.code ?? ""} ${e.cause?.message ?? ""}` });
        return;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      categories.set(r.category, (categories.get(r.category) ?? 0) + 1);
      covered.add(`${r.method} ${r.route}`);
      const fail = (why: string) => failures.push({ request: label, status, why, answer: `${type} ${text.slice(0, 300)}` });
      if (status >= 500) return fail("5xx");
      // The path as sent: the client normalises dot segments (`/api/%2e%2e/x` is `/x`, a page).
      const sent = new URL(r.target, web.url).pathname;
      const isApi = /^\/(api|v1)\//.test(sent) && !sent.startsWith(OWN_FORMAT_EXEMPT);
      if (status < 400 || r.method === "HEAD" || !isApi) return;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return fail("error answer is not JSON");
      }
      if (!isSeedError(body)) fail("error answer not in the seed's format");
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) await one(requests[next++]!);
      }),
    );
    const seconds = (Date.now() - started) / 1000;

    const summary =
      `seed ${SEED}: ${requests.length} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
      `categories ${JSON.stringify(Object.fromEntries(categories))}`;
    console.log(`[faults] hostile requests: ${summary}; ${failures.length} failures`);
    if (failures.length > 0) {
      // What the server logged about them (pino level 50 = error), to find the cause.
      const logged = web.output().split("\n").filter((l) => l.includes('"level":50') || l.includes("Error")).slice(0, 20);
      console.log(`[faults] server errors:\n${logged.map((l) => l.slice(0, 1500)).join("\n")}`);
    }
    expect(failures.slice(0, 25), `${failures.length} failures (${summary})`).toEqual([]);
    expect(web.alive(), "the web process is still running").toBe(true);
    // Every route file and every method it exports was exercised.
    const missing = routes.flatMap((r) => [...r.methods].map((m) => `${m} ${r.path}`)).filter((k) => !covered.has(k));
    expect(missing).toEqual([]);

    // Still serving correctly: a new segment, events, evaluation, the serving read, readiness.
    const after = await api(web.url, "POST", "/api/v1/segments", { name: `after ${dep.tag}`, rules: [CART_RULE] });
    expect(after.status).toBe(201);
    const user = `after-storm-${dep.tag}`;
    expect((await api(web.url, "POST", "/api/v1/events", { events: cartEvents(user) })).status).toBe(202);
    await until(() => members(dep.db, after.body.id), (m) => m.has(user), "the user to enter the new segment", 60_000);
    const served = await api(web.url, "GET", `/api/v1/users/${user}/segments`);
    expect(served.status).toBe(200);
    expect(JSON.stringify(served.body)).toContain(after.body.id);
    expect((await fetch(`${web.url}/api/health/ready`)).status).toBe(200);
  }, 600_000);
});
