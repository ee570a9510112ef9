import { describe, expect, it } from "vitest";
import type { EventLog } from "@/lib/ports/event-log";
import type { SendRecord, SendStore } from "@/lib/ports/sends";
import { metrics, metricsText, routeLabel } from "./index";
import { instrumentEventLog, instrumentSends } from "./instrument";

async function value(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>) {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe("metrics", () => {
  it("labels a request by its route pattern, not its ids", () => {
    expect(routeLabel("/api/v1/users/u-1/segments/abc/explain", { userId: "u-1", segmentId: "abc" })).toBe(
      "/api/v1/users/[userId]/segments/[segmentId]/explain",
    );
    expect(routeLabel("/api/v1/users/a%20b/profile", { userId: "a b" })).toBe("/api/v1/users/[userId]/profile");
    expect(routeLabel("/api/v1/segments", {})).toBe("/api/v1/segments");
  });

  it("caps the distinct route labels", () => {
    for (let i = 0; i < 600; i++) routeLabel(`/cap-test/${i}`, {});
    expect(routeLabel("/cap-test/new-one", {})).toBe("other");
    expect(routeLabel("/api/v1/segments", {})).toBe("/api/v1/segments"); // already known
  });

  it("serves every metric the operators watch, with the process's defaults", async () => {
    const { body, contentType } = await metricsText();
    expect(contentType).toMatch(/^text\/plain/);
    for (const name of [
      "audience_http_request_duration_seconds",
      "audience_events_ingested_total",
      "audience_events_rejected_total",
      "audience_consumer_lag_messages",
      "audience_consumer_batch_duration_seconds",
      "audience_evaluation_latency_seconds",
      "audience_segment_transitions_total",
      "audience_campaign_sends_total",
      "audience_rate_limited_total",
      "process_cpu_user_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(body).toContain(`# TYPE ${name} `);
    }
    expect(metrics()).toBe(metrics()); // one registry per process
  });

  it("counts the transitions a processor publishes (only once appended), by kind and cause", async () => {
    let fail = true;
    const appended: string[] = [];
    const inner: EventLog = {
      ensureTopics: async () => {},
      append: async (topic, messages) => {
        if (fail) throw new Error("log down");
        appended.push(...messages.map((m) => `${topic}:${m.key}`));
      },
      subscribe: async () => ({ close: async () => {} }),
      close: async () => {},
    };
    const log = instrumentEventLog(inner, { consumer: "segment-processor", transitionsTopic: "segment-memberships" });
    const t = (kind: string, cause: string) => ({ key: "u", value: JSON.stringify({ id: "x", userId: "u", segmentId: "s", kind, cause, at: 1, version: 1 }) });
    const read = () =>
      Promise.all([
        value(metrics().transitions, { kind: "enter", cause: "event" }),
        value(metrics().transitions, { kind: "exit", cause: "time" }),
        value(metrics().transitions, { kind: "other", cause: "other" }),
      ]);
    const before = await read();
    await expect(log.append("segment-memberships", [t("enter", "event")])).rejects.toThrow("log down");
    expect(await read()).toEqual(before);
    fail = false;
    await log.append("segment-memberships", [t("enter", "event"), t("enter", "event"), t("exit", "time"), { key: "u", value: "{not json" }]);
    await log.append("dead-letters", [t("enter", "event")]);
    const after = await read();
    expect(after.map((v, i) => v - before[i]!)).toEqual([2, 1, 1]);
    expect(appended).toHaveLength(5);
  });

  it("counts sends entering each status, only when the store moved them", async () => {
    const record = { id: 1 } as SendRecord;
    let created = true;
    // Called loosely: the decorator forwards whatever arguments the store's methods take.
    const store = instrumentSends({
      claim: async () => ({ record, created }),
      markSending: async () => created,
      markSent: async () => true,
      markFailed: async () => false,
      markSkipped: async () => undefined,
      requeue: async () => true,
      due: async () => [],
      stuckSending: async () => [],
      sentTimes: async () => [],
    } as unknown as SendStore) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const read = async () =>
      Object.fromEntries(
        await Promise.all(["queued", "sending", "sent", "failed", "skipped", "requeued"].map(async (s) => [s, await value(metrics().sends, { status: s })])),
      );
    const before = await read();
    await store.claim!({ idempotencyKey: "k" }, new Date());
    expect(await store.markSending!(1, new Date())).toBe(true);
    await store.markSent!(1, "p-1", new Date());
    await store.markFailed!(1, "x", new Date()); // reports false: not counted
    await store.markSkipped!(1, "no_email_address", new Date());
    await store.requeue!(1, new Date(), "quiet_hours", new Date());
    created = false;
    await store.claim!({ idempotencyKey: "k" }, new Date());
    await store.markSending!(1, new Date());
    expect(await store.due!(new Date(), 10)).toEqual([]);
    const after = await read();
    expect(Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]))).toEqual({
      queued: 1,
      sending: 1,
      sent: 1,
      failed: 0,
      skipped: 1,
      requeued: 1,
    });
  });
});
