import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { cachedReadiness, checkReadiness } from "./health";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("readiness", () => {
  it("is ready when every probe answers, with each one's latency", async () => {
    const r = await checkReadiness({ database: async () => {}, eventLog: () => sleep(20) });
    expect(r.status).toBe("ready");
    expect(r.checks.database).toEqual({ status: "up", latencyMs: expect.any(Number) });
    expect(r.checks.eventLog!.latencyMs).toBeGreaterThanOrEqual(15);
  });

  it("is 503 naming what is down (failed or too slow), without the error's text, which goes to onError", async () => {
    const logged: string[] = [];
    const error = await checkReadiness(
      {
        database: async () => {},
        eventLog: async () => {
          throw new Error("connect ECONNREFUSED 10.1.2.3:9092");
        },
        memberships: () => sleep(500),
      },
      { timeoutMs: 100, onError: (dep, e) => logged.push(`${dep}: ${(e as Error).message}`) },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    const e = error as AppError;
    expect(e.status).toBe(503);
    expect(e.headers["retry-after"]).toBe("5");
    expect(e.message).toBe("Not ready: eventLog, memberships unavailable");
    expect(e.details.field).toBe("eventLog");
    expect(e.details.checks).toEqual({
      database: { status: "up", latencyMs: expect.any(Number) },
      eventLog: { status: "down", latencyMs: expect.any(Number), reason: "the probe failed" },
      memberships: { status: "down", latencyMs: expect.any(Number), reason: "no answer within 100 ms" },
    });
    expect(JSON.stringify(e.details)).not.toContain("10.1.2.3");
    expect(logged).toEqual(["eventLog: connect ECONNREFUSED 10.1.2.3:9092"]);
  });

  it("shares one probe between concurrent and closely following callers, then probes again", async () => {
    let runs = 0;
    const check = cachedReadiness(async () => {
      runs++;
      await sleep(30);
      return { status: "ready" as const, checks: {} };
    }, 100);
    await Promise.all([check(), check(), check()]);
    await check();
    expect(runs).toBe(1);
    await sleep(130);
    await check();
    expect(runs).toBe(2);
  });
});
