/**
 * The Kafka broker stops in the middle of steady ingestion and comes back.
 * - While it is down the API answers 503 with Retry-After in the seed's error format, promptly,
 *   and acknowledges nothing (no 202).
 * - The web process and the segment processor recover by themselves: 202s resume without a
 *   restart, definition changes reach the processor again, and every acknowledged event is
 *   evaluated afterwards — each request carries three
 *   addToCart events for a fresh user and the segment needs three, so a user is a member exactly
 *   when all three events of its request were evaluated. None may be missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, api, CART_RULE, cartEvents, cartSegment, isSeedError, members, openDeployment, startServer, startWorkerProcess, until, type Deployment, type Proc } from "./support";
import { services } from "./services";
import { attempt, drive, tally } from "./traffic";

const PORT = Number(process.env.FAULTS_KAFKA_TEST_PORT ?? 3112);

describe("Kafka broker stopped during ingestion", () => {
  let dep: Deployment;
  let web: Proc & { url: string };
  let processor: Proc;

  beforeAll(async () => {
    dep = await openDeployment("kafka");
    [web, processor] = await Promise.all([
      startServer(dep.env, PORT),
      startWorkerProcess("workers/segment-processor/main.ts", dep.env, "segment processor started"),
    ]);
  }, 240_000);

  afterAll(async () => {
    // Whatever happened, leave the broker running for the next test file.
    await services("up", "kafka");
    await web?.stop();
    await processor?.stop();
    await dep?.cleanup();
  }, 120_000);

  it("answers 503 while the broker is down, acknowledges nothing then, and evaluates every acknowledged event afterwards", async () => {
    const segmentId = await cartSegment(web.url, dep.db, `carts ${dep.tag}`);
    const traffic = drive(4, (i) =>
      attempt("ingest", `${dep.tag}-u${i}`, `${web.url}/api/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ events: cartEvents(`${dep.tag}-u${i}`) }),
      }),
    );
    const phase = { stopping: 0, stopped: 0, starting: 0, started: 0 };
    await new Promise((r) => setTimeout(r, 2_000));
    phase.stopping = Date.now();
    await services("down", "kafka");
    phase.stopped = Date.now();
    // Longer than the consumers' own retries (kafkajs gives up on a group after ~20 s).
    await new Promise((r) => setTimeout(r, 15_000));
    phase.starting = Date.now();
    await services("up", "kafka");
    phase.started = Date.now();
    // Recovery by itself: acknowledgements resume on the same processes.
    await until(
      async () => traffic.outcomes.filter((o) => o.startedAt > phase.started && o.status === 202).length,
      (n) => n >= 20,
      "ingestion to be acknowledged again after the broker restarted",
      60_000,
    );
    const resumedAt = Date.now();
    await traffic.stop();

    const outcomes = traffic.outcomes;
    const counts = tally(outcomes);
    const unexpected = outcomes.filter((o) => o.status !== 202 && o.status !== 503);
    expect(unexpected.map((o) => `${o.status} ${o.error ?? JSON.stringify(o.body).slice(0, 200)}`), JSON.stringify(counts)).toEqual([]);
    const refused = outcomes.filter((o) => o.status === 503);
    expect(refused.length, JSON.stringify(counts)).toBeGreaterThan(0);
    for (const o of refused) {
      expect(isSeedError(o.body), JSON.stringify(o.body)).toBe(true);
      expect((o.body as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");
      expect(Number(o.headers?.get("retry-after"))).toBeGreaterThan(0);
    }
    // Nothing acknowledged while no broker could have stored it.
    const ackedWhileDown = outcomes.filter((o) => o.status === 202 && o.startedAt >= phase.stopped && o.startedAt + o.ms <= phase.starting);
    expect(ackedWhileDown).toEqual([]);
    // Every request sent while the broker was down for good got its 503 promptly (kafkajs' own retries are bounded).
    const whileDown = outcomes.filter((o) => o.startedAt >= phase.stopped + 500 && o.startedAt + o.ms <= phase.starting);
    expect(whileDown.length).toBeGreaterThan(0);
    expect(Math.max(...whileDown.map((o) => o.ms))).toBeLessThan(6_000);

    const acked = new Set(outcomes.filter((o) => o.status === 202).map((o) => o.subject));
    const attempted = new Set(outcomes.map((o) => o.subject));
    const ackedBefore = outcomes.filter((o) => o.status === 202 && o.startedAt < phase.stopping).length;
    expect(ackedBefore).toBeGreaterThan(0);

    // Every acknowledged event evaluated: each acknowledged user in the segment. A 503 may still
    // have been written (the broker stored it, the acknowledgement was lost): such a user may be
    // a member too, but nobody who was never sent.
    const got = await until(
      () => members(dep.db, segmentId),
      (m) => [...acked].every((u) => m.has(u)),
      "every acknowledged user to be evaluated",
      120_000,
      (m) => `${[...acked].filter((u) => !m.has(u)).length} of ${acked.size} acknowledged users missing`,
    );
    const strangers = [...got].filter((u) => !attempted.has(u) && !u.startsWith("probe-"));
    expect(strangers).toEqual([]);

    // Definition changes still reach the processor (its segment-updates consumer survived the
    // outage too): a segment created now is evaluated from the retained state at once.
    const created = await api(web.url, "POST", "/api/v1/segments", { name: `after ${dep.tag}`, rules: [{ ...CART_RULE, value: 2 }] });
    expect(created.status).toBe(201);
    await until(
      () => members(dep.db, created.body.id),
      (m) => [...acked].every((u) => m.has(u)),
      "a segment created after the outage to be evaluated",
      60_000,
      (m) => `${m.size} members, ${acked.size} acknowledged users`,
    );
    expect(web.alive() && processor.alive()).toBe(true);
    const ready = await fetch(`${web.url}/api/health/ready`);
    expect(ready.status).toBe(200);

    const lost = [...acked].filter((u) => !got.has(u)).length;
    console.log(
      `[faults] kafka outage: ${outcomes.length} requests (${JSON.stringify(counts)}), broker down ` +
        `${((phase.started - phase.stopping) / 1000).toFixed(1)} s, 202 again ${((resumedAt - phase.started) / 1000).toFixed(1)} s after it was up; ` +
        `${acked.size} acknowledged, ${lost} lost, ${got.size - 1 - acked.size} unacknowledged but stored; ` +
        `consumers restarted after giving up: ${(processor.output() + web.output()).split("restarting it in").length - 1}`,
    );
  }, 240_000);
});
