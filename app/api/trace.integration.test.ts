import { Writable } from "node:stream";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckpointStore } from "@/lib/adapters/db/checkpoint-store";
import { TRACE_HEADER } from "@/lib/log";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { startSegmentProcessor, type SegmentProcessor } from "@/lib/services/segment-processor";
import { TOPICS } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as events from "./v1/events/route";

/**
 * A request's trace id follows its events: the route puts it in the `trace-id` header of what it
 * appends, and the segment processor logs under it (debug: each evaluated event; warn: a message
 * it dead-letters).
 */
describe.each(engineCases)("trace id from the route into the processor on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let processor: SegmentProcessor;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: "debug" }, sink);
    processor = await startSegmentProcessor(
      {
        eventLog: env.rt.eventLog,
        segments: env.rt.segments,
        memberships: env.rt.memberships,
        history: env.rt.history,
        checkpoints: createCheckpointStore(env.db.db),
        clock: env.rt.clock,
        log,
      },
      { groupId: `trace-test-${randomBytes(4).toString("hex")}`, instanceId: `trace-${randomBytes(3).toString("hex")}`, fromBeginning: false },
    );
  });
  afterAll(async () => {
    await processor?.close();
    uninstallRuntime();
    await env?.close();
  });

  it("logs each evaluated event with the trace id of the request that sent it", async () => {
    const traceId = `trace-${randomBytes(6).toString("hex")}`;
    const userId = `traced-${randomBytes(4).toString("hex")}`;
    const res = await call(events.POST, "POST", {
      headers: { "x-request-id": traceId },
      body: { events: [{ userId, eventType: "clicks", timestamp: Date.now() - 1000, attributes: {} }] },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-trace-id")).toBe(traceId);
    const line = await eventually(
      async () => lines.find((l) => l.msg === "event evaluated" && l.userId === userId),
      (l) => l !== undefined,
      "the processor's log line",
    );
    expect(line).toMatchObject({ level: 20, traceId, eventType: "clicks", transitions: 0 });
  });

  it("names the trace id of a message it dead-letters", async () => {
    const traceId = `trace-${randomBytes(6).toString("hex")}`;
    await env.rt.eventLog.append(TOPICS.userEvents, [{ key: "poison", value: "{not json", headers: { [TRACE_HEADER]: traceId } }]);
    const line = await eventually(
      async () => lines.find((l) => l.msg === "dead-lettered" && l.traceId === traceId),
      (l) => l !== undefined,
      "the dead-letter warning",
    );
    expect(line).toMatchObject({ level: 40, reason: "unparseable", topic: TOPICS.userEvents });
  });
});
