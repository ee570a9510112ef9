/**
 * The send store's exactly-once guards, on each database: a status change applies only from the
 * status it leaves, fresh claims are leased to their claimer, and concurrent sweeps take
 * disjoint due records.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { campaignSends, campaigns, segments } from "@/db/schema";
import type { DatabaseHandle } from "@/db/client";
import { createSendStore } from "@/lib/adapters/db/send-store";
import type { SendStore } from "@/lib/ports/sends";
import { engineCases } from "@/test/support/engines";

describe.each(engineCases)("send store on $name", (engine) => {
  let db: DatabaseHandle & { drop(): Promise<void> };
  let store: SendStore;
  const campaignId = randomUUID();
  const t0 = new Date("2026-05-01T10:00:00.000Z");
  const at = (ms: number) => new Date(t0.getTime() + ms);
  let n = 0;
  const claim = (now = t0, leaseUntil = at(60_000)) =>
    store.claim({ idempotencyKey: `k-${++n}`, campaignId, runId: null, userId: `u-${n}`, channel: "sms", transitionId: `t-${n}` }, now, leaseUntil);

  beforeAll(async () => {
    db = await engine.openDb();
    const segmentId = randomUUID();
    await db.db.insert(segments).values({ id: segmentId, name: "s", type: "INDEPENDENT", createdBy: "t", updatedBy: "t" });
    await db.db
      .insert(campaigns)
      .values({ id: campaignId, name: "c", segmentId, channelType: "sms", trigger: "ON_ENTER", template: "x", status: "ACTIVE", createdBy: "t" });
    store = createSendStore(db.db);
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it("claims once per key; a fresh claim is leased to its claimer, not due before the lease ends", async () => {
    const first = await claim();
    expect(first).toMatchObject({ created: true, record: { status: "queued", attempts: 0 } });
    const again = await store.claim({ ...first.record, idempotencyKey: first.record.idempotencyKey }, at(5), at(60_005));
    expect(again).toMatchObject({ created: false, record: { id: first.record.id } });
    expect((await store.due(at(59_999), 100, at(120_000))).map((r) => r.id)).not.toContain(first.record.id);
    expect((await store.due(at(60_000), 100, at(120_000))).map((r) => r.id)).toContain(first.record.id);
  });

  it("a decision taken late cannot undo the winner's: every change is guarded by the status it leaves", async () => {
    const { record } = await claim();
    expect(await store.markSending(record.id, t0)).toBe(true);
    expect(await store.markSending(record.id, t0)).toBe(false); // the other worker
    // The loser's policy decision (defer / skip) arrives while the call is in flight: no effect.
    expect(await store.requeue(record.id, at(500), "rate_limit", t0, "queued")).toBe(false);
    expect(await store.markSkipped(record.id, "frequency_cap", t0)).toBe(false);
    expect(await store.markSent(record.id, "SM1", at(10))).toBe(true);
    // …or after it: a sent record stays sent, it is never queued (and sent) again.
    expect(await store.requeue(record.id, at(500), "outcome_unknown", at(20), "sending")).toBe(false);
    expect(await store.markFailed(record.id, "late", at(20), "sending")).toBe(false);
    const [row] = await store.due(at(10 ** 9), 1000, at(2 * 10 ** 9)).then((r) => r.filter((x) => x.id === record.id));
    expect(row).toBeUndefined();
  });

  it("concurrent sweeps take disjoint due records, each leased", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push((await claim(t0, at(1000))).record.id);
    const now = at(2000);
    const [a, b, c] = await Promise.all([store.due(now, 15, at(62_000)), store.due(now, 15, at(62_000)), store.due(now, 15, at(62_000))]);
    const taken = [...a, ...b, ...c].map((r) => r.id).filter((id) => ids.includes(id));
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken.length).toBe(40); // room for 45: every due record was taken, none twice
    expect(await store.due(at(61_999), 100, at(130_000)).then((r) => r.filter((x) => taken.includes(x.id)))).toEqual([]);
  });

  it("a failure before any provider call is counted in attempts", async () => {
    const { record } = await claim();
    expect(await store.requeue(record.id, at(100), "error: x", t0, "queued", { countAttempt: true })).toBe(true);
    expect(await store.markFailed(record.id, "error: x", at(100), "queued", { countAttempt: true })).toBe(true);
    const [row] = await db.db.select().from(campaignSends).where(eq(campaignSends.id, record.id));
    expect(row).toMatchObject({ status: "failed", attempts: 2, reason: "error: x", nextAttemptAt: null });
    expect(await store.markSkipped(record.id, "late", at(200))).toBe(false);
  });
});
