/**
 * Retention (NFR16): history, campaign sends and audit entries past RETENTION_DAYS are purged by
 * the scheduled job, judged by an injected clock; nothing younger, no open membership entry and
 * no unfinished send is touched. On every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asc, eq, sql } from "drizzle-orm";
import { auditLog, campaignSends, campaigns, segments, userSegmentHistory } from "@/db/schema";
import type { DatabaseHandle } from "@/db/client";
import { createPrivacyStore } from "@/lib/adapters/db/privacy-store";
import type { Clock } from "@/lib/ports/clock";
import { engineCases } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { purgeExpired, startRetentionJob } from "./retention";

const DAY = 24 * 3600_000;
const NOW = new Date("2027-06-01T00:00:00Z");
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);
const log = { info: () => {}, warn: () => {} };

describe.each(engineCases)("retention purge on $name", (engine) => {
  let db: DatabaseHandle & { drop(): Promise<void> };
  let now = NOW;
  const clock: Clock = { now: () => now };

  beforeAll(async () => {
    db = await engine.openDb();
    const [seg] = await db.db
      .insert(segments)
      .values({ name: "s", type: "INDEPENDENT", createdBy: "t", updatedBy: "t" })
      .returning({ id: segments.id });
    const [camp] = await db.db
      .insert(campaigns)
      .values({ name: "c", segmentId: seg!.id, channelType: "sms", trigger: "ON_ENTER", template: "hi", createdBy: "t" })
      .returning({ id: campaigns.id });
    const h = (userId: string, entered: number, exited: number | null) => ({
      userId,
      segmentId: seg!.id,
      enteredAt: ago(entered),
      exitedAt: exited === null ? null : ago(exited),
      enterCause: "event" as const,
      exitCause: exited === null ? null : ("time" as const),
      definitionVersion: 1,
    });
    await db.db.insert(userSegmentHistory).values([
      h("old-closed-1", 400, 399),
      h("old-closed-2", 380, 366),
      h("old-closed-3", 370, 367),
      h("closed-recently", 400, 300), // entered long ago, left within retention: kept
      h("still-member", 500, null), // open entry: a current membership, kept
      h("young", 10, 5),
    ]);
    const s = (key: string, status: "sent" | "failed" | "skipped" | "queued" | "sending", days: number) => ({
      idempotencyKey: key,
      campaignId: camp!.id,
      userId: key,
      channel: "sms" as const,
      status,
      createdAt: ago(days),
      updatedAt: ago(days),
    });
    await db.db.insert(campaignSends).values([
      s("old-sent", "sent", 400),
      s("old-failed", "failed", 366),
      s("old-skipped", "skipped", 370),
      s("old-queued", "queued", 400), // not finished: still guards its idempotency key
      s("young-sent", "sent", 364),
    ]);
    const a = (action: string, days: number) => ({ at: ago(days), actor: "t", action, entityType: "x", entityId: action });
    await db.db.insert(auditLog).values([a("old-1", 366), a("old-2", 800), a("young-1", 364), a("young-2", 0)]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("purges what is older than the retention at the clock's now, in batches, and audits it", async () => {
    const store = createPrivacyStore(db.db);
    expect(await purgeExpired({ store, clock, log }, { retentionDays: 365, batch: 2 })).toEqual({ history: 3, sends: 3, audit: 2 });
    const users = (await db.db.select({ u: userSegmentHistory.userId }).from(userSegmentHistory).orderBy(asc(userSegmentHistory.userId))).map((r) => r.u);
    expect(users).toEqual(["closed-recently", "still-member", "young"]);
    const sends = (await db.db.select({ k: campaignSends.idempotencyKey }).from(campaignSends).orderBy(asc(campaignSends.idempotencyKey))).map((r) => r.k);
    expect(sends).toEqual(["old-queued", "young-sent"]);
    const audit = await db.db.select().from(auditLog).orderBy(asc(auditLog.id));
    expect(audit.map((r) => r.action)).toEqual(["young-1", "young-2", "retention.purged"]);
    expect(audit[2]).toMatchObject({ actor: "system:retention", at: NOW, after: { retentionDays: 365, deleted: { history: 3, sends: 3, audit: 2 } } });
    // Nothing left to do: no audit entry for an empty round.
    expect(await purgeExpired({ store, clock, log }, { retentionDays: 365 })).toEqual({ history: 0, sends: 0, audit: 0 });
    expect(await db.db.select().from(auditLog)).toHaveLength(3);
  });

  it("the scheduled job runs on its timer and judges by the injected clock (a year later, everything goes)", async () => {
    now = new Date(NOW.getTime() + 400 * DAY);
    const job = startRetentionJob({ store: createPrivacyStore(db.db), clock, log }, { retentionDays: 365, firstRunMs: 10, intervalMs: 60_000 });
    try {
      await eventually(() => db.db.select().from(userSegmentHistory).where(eq(userSegmentHistory.userId, "young")), (r) => r.length === 0, "the timer's purge");
      await job.runNow(); // the timer's round may still be finishing
      expect((await db.db.select({ u: userSegmentHistory.userId }).from(userSegmentHistory)).map((r) => r.u)).toEqual(["still-member"]);
      expect((await db.db.select({ k: campaignSends.idempotencyKey }).from(campaignSends)).map((r) => r.k)).toEqual(["old-queued"]);
      expect((await db.db.select({ a: auditLog.action }).from(auditLog)).map((r) => r.a)).toEqual(["retention.purged"]);
    } finally {
      await job.close();
    }
  });

  it.skipIf(engine.name.startsWith("embedded"))("skips a round while another process holds the purge lock", async () => {
    // PostgreSQL only: PGlite has one connection, so there is no other process to hold it.
    const store = createPrivacyStore(db.db);
    await db.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(7265110003)`);
      expect(await store.purgeBefore(NOW, 10)).toBeNull();
      expect(await purgeExpired({ store, clock, log }, { retentionDays: 1 })).toBeNull();
    });
    expect(await store.purgeBefore(NOW, 10)).not.toBeNull();
  });
});
