/**
 * Send policy through the running dispatcher, on each engine, with an injected clock: quiet
 * hours (defer to the window's end in the user's zone, or skip), the frequency cap across
 * campaigns as its window slides, the per-campaign rate limit, and a batch run that starts by
 * itself when the clock reaches its `scheduledAt`. The clock moves only when a test moves it, so
 * every decision and every recorded time is exact. (The pure policy has its own unit tests in
 * lib/campaigns/policy.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asc, eq } from "drizzle-orm";
import { campaignSends, userProfiles } from "@/db/schema";
import { createCampaignStore } from "@/lib/adapters/db/campaign-store";
import { createRunStore } from "@/lib/adapters/db/run-store";
import { createSendStore } from "@/lib/adapters/db/send-store";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { Clock } from "@/lib/ports/clock";
import type { MessageSender, OutboundMessage } from "@/lib/ports/messages";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { TOPICS } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as campaignsRoute from "@/app/api/v1/campaigns/route";
import * as campaignItem from "@/app/api/v1/campaigns/[campaignId]/route";
import * as campaignStatus from "@/app/api/v1/campaigns/[campaignId]/status/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";
import { startCampaignDispatcher, type Dispatcher, type DispatcherOptions } from "./campaign-dispatcher";

class ManualClock implements Clock {
  constructor(private ms: number) {}
  now() {
    return new Date(this.ms);
  }
  set(iso: string) {
    const next = Date.parse(iso);
    if (next < this.ms) throw new Error("this clock only moves forward");
    this.ms = next;
  }
}

/** An SMS provider double that notes the (injected) time of every message it is handed. */
class RecordingSms implements MessageSender {
  readonly channel = "sms" as const;
  sent: { to: string; body: string; at: string }[] = [];
  constructor(private clock: Clock) {}
  async send(message: OutboundMessage) {
    if (message.channel !== "sms") throw new TypeError("not an sms");
    this.sent.push({ to: message.to, body: message.body, at: this.clock.now().toISOString() });
    return { providerMessageId: `SM${this.sent.length}` };
  }
}

describe.each(engineCases)("campaign policy through the dispatcher on $name, with an injected clock", (engine) => {
  // Tuesday 10 March 2026, 21:30 UTC: 22:30 in Berlin (UTC+1), 17:30 in New York (UTC-4, DST).
  const clock = new ManualClock(Date.parse("2026-03-10T21:30:00.000Z"));
  const sms = new RecordingSms(clock);
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let dispatcher: Dispatcher;
  const run = Math.random().toString(36).slice(2, 8);
  let phones = 0;

  /** A dispatcher over this runtime's stores, the recording SMS provider and the injected clock. */
  const startWith = (options: DispatcherOptions) =>
    startCampaignDispatcher(
      {
        eventLog: env.log,
        campaigns: createCampaignStore(env.db.db),
        sends: createSendStore(env.db.db),
        profiles: env.rt.profiles,
        segments: env.rt.segments,
        senders: new Map<ChannelType, MessageSender>([["sms", sms]]),
        runs: createRunStore(env.db.db),
        memberships: env.rt.memberships,
        clock,
        log: env.rt.log,
        random: () => 0,
      },
      options,
    );

  beforeAll(async () => {
    env = await openTestRuntime(engine, { clock });
    installRuntime({ ...env.rt, campaignDeps: { ...env.rt.campaignDeps, channels: new Set<ChannelType>(["sms"]) } });
    dispatcher = await startWith({ groupId: `dispatcher-clock-test-${run}`, pollMs: 20 });
  });
  afterAll(async () => {
    await dispatcher?.close();
    uninstallRuntime();
    await env?.close();
  });

  async function segment() {
    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `policy ${run} ${Math.random()}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    expect(seg.status).toBe(201);
    return seg.body.id as string;
  }

  async function campaign(segmentId: string, body: Record<string, unknown>) {
    const c = await call(campaignsRoute.POST, "POST", {
      body: { name: `c ${run} ${Math.random()}`, segmentId, channelType: "sms", trigger: "ON_ENTER", template: "Hi from {{campaign.name}}", ...body },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    expect((await call(campaignStatus.PATCH, "PATCH", { params: { campaignId: c.body.id }, body: { status: "ACTIVE" } })).status).toBe(200);
    return c.body.id as string;
  }

  async function user(name: string, timezone: string | null = null) {
    const userId = `${name}-${run}`;
    const phone = `+4915190${String(++phones).padStart(6, "0")}`;
    expect((await call(profile.PUT, "PUT", { params: { userId }, body: { phone, timezone } })).status).toBeLessThan(300);
    return { userId, phone };
  }

  /** Entries as the segment processor publishes them, stamped with the injected clock. */
  async function enter(segmentId: string, userIds: string[]) {
    const at = clock.now().getTime();
    await env.log.append(
      TOPICS.segmentMemberships,
      userIds.map((userId) => ({
        key: userId,
        value: JSON.stringify({ id: `${userId}|${segmentId}|enter|${at}`, userId, segmentId, kind: "enter", at, cause: "event", version: 1 }),
      })),
    );
  }

  const sendsOf = (campaignId: string) =>
    env.db.db.select().from(campaignSends).where(eq(campaignSends.campaignId, campaignId)).orderBy(asc(campaignSends.id));
  /** Waits until the dispatcher has decided every send of the campaign (none fresh), then settles. */
  async function decided(campaignId: string, n: number) {
    const rows = await eventually(
      () => sendsOf(campaignId),
      (r) => r.length === n && r.every((x) => x.status !== "sending" && (x.status !== "queued" || x.reason !== null)),
      `${n} decided sends`,
    );
    await dispatcher.idle();
    return rows;
  }
  const iso = (d: Date | null) => d?.toISOString() ?? null;

  it("quiet hours, defer: a message due at night goes out when the user's local window ends", async () => {
    clock.set("2026-03-10T21:30:00.000Z");
    const seg = await segment();
    const campaignId = await campaign(seg, { policy: { quietHours: { start: "22:00", end: "08:00", mode: "defer" } } });
    const berlin = await user("berlin", "Europe/Berlin"); // 22:30 local: quiet
    const newYork = await user("newyork", "America/New_York"); // 17:30 local: not quiet
    await enter(seg, [berlin.userId, newYork.userId]);
    const rows = await decided(campaignId, 2);
    const byUser = Object.fromEntries(rows.map((r) => [r.userId, r]));
    expect(byUser[newYork.userId]).toMatchObject({ status: "sent" });
    expect(iso(byUser[newYork.userId]!.sentAt)).toBe("2026-03-10T21:30:00.000Z");
    // 08:00 in Berlin (UTC+1) is 07:00 UTC.
    expect(byUser[berlin.userId]).toMatchObject({ status: "queued", reason: "quiet_hours", attempts: 0 });
    expect(iso(byUser[berlin.userId]!.nextAttemptAt)).toBe("2026-03-11T07:00:00.000Z");

    clock.set("2026-03-11T06:59:59.999Z");
    await dispatcher.idle();
    expect(sms.sent.filter((m) => m.to === berlin.phone)).toEqual([]);

    clock.set("2026-03-11T07:00:00.000Z");
    await dispatcher.idle();
    expect(sms.sent.filter((m) => m.to === berlin.phone)).toEqual([{ to: berlin.phone, body: expect.any(String), at: "2026-03-11T07:00:00.000Z" }]);
    const [after] = (await sendsOf(campaignId)).filter((r) => r.userId === berlin.userId);
    expect(after).toMatchObject({ status: "sent", attempts: 1 });
    expect(iso(after!.sentAt)).toBe("2026-03-11T07:00:00.000Z");
  });

  it("quiet hours, skip: a message due at night is skipped with that reason and never sent", async () => {
    clock.set("2026-03-11T23:15:00.000Z"); // 00:15 in Berlin
    const seg = await segment();
    const campaignId = await campaign(seg, { policy: { quietHours: { start: "22:00", end: "08:00", mode: "skip" } } });
    const night = await user("night", "Europe/Berlin");
    const noZone = await user("nozone"); // no zone: UTC, 23:15, also quiet
    const tokyo = await user("tokyo", "Asia/Tokyo"); // 08:15 local: not quiet
    await enter(seg, [night.userId, noZone.userId, tokyo.userId]);
    const rows = await decided(campaignId, 3);
    expect(Object.fromEntries(rows.map((r) => [r.userId, [r.status, r.reason]]))).toEqual({
      [night.userId]: ["skipped", "quiet_hours"],
      [noZone.userId]: ["skipped", "quiet_hours"],
      [tokyo.userId]: ["sent", null],
    });
    clock.set("2026-03-12T08:00:00.000Z");
    await dispatcher.idle();
    expect(sms.sent.filter((m) => m.to === night.phone || m.to === noZone.phone)).toEqual([]);
  });

  it("the frequency cap counts every campaign's sends and frees up as its window slides", async () => {
    const [segA, segB] = [await segment(), await segment()];
    const uncapped = await campaign(segA, {});
    const capped = await campaign(segB, { policy: { frequencyCap: { maxMessages: 2, windowHours: 24 } } });
    const u = await user("capped");
    clock.set("2026-03-13T10:00:00.000Z");
    await enter(segA, [u.userId]);
    await decided(uncapped, 1);
    const enteredAt: string[] = [];
    for (const at of [
      "2026-03-13T11:00:00.000Z", // one send (the other campaign's) in the last 24 h: room for one more
      "2026-03-13T12:00:00.000Z", // two: capped
      "2026-03-14T09:59:59.999Z", // still two: the 10:00 send is 23:59:59.999 old
      "2026-03-14T10:00:00.000Z", // the window is open at its start: the 10:00 send has left it
      "2026-03-14T10:30:00.000Z", // 11:00 yesterday and 10:00 today: capped again
    ]) {
      clock.set(at);
      enteredAt.push(at);
      await enter(segB, [u.userId]); // every entry is a new transition, so a new send
      await decided(capped, enteredAt.length);
    }
    const rows = await sendsOf(capped);
    expect(rows.map((r, i) => [enteredAt[i], r.status, r.reason, iso(r.sentAt)])).toEqual([
      ["2026-03-13T11:00:00.000Z", "sent", null, "2026-03-13T11:00:00.000Z"],
      ["2026-03-13T12:00:00.000Z", "skipped", "frequency_cap", null],
      ["2026-03-14T09:59:59.999Z", "skipped", "frequency_cap", null],
      ["2026-03-14T10:00:00.000Z", "sent", null, "2026-03-14T10:00:00.000Z"],
      ["2026-03-14T10:30:00.000Z", "skipped", "frequency_cap", null],
    ]);
    expect(sms.sent.filter((m) => m.to === u.phone).map((m) => m.at)).toEqual([
      "2026-03-13T10:00:00.000Z",
      "2026-03-13T11:00:00.000Z",
      "2026-03-14T10:00:00.000Z",
    ]);
  });

  it("the rate limit spreads a burst: the first second's worth at once, then one every 1/rate s", async () => {
    clock.set("2026-03-15T12:00:00.000Z");
    const seg = await segment();
    const campaignId = await campaign(seg, { policy: { rateLimitPerSecond: 2 } });
    const users: { userId: string; phone: string }[] = [];
    for (let i = 0; i < 5; i++) users.push(await user(`burst${i}`));
    await enter(
      seg,
      users.map((x) => x.userId),
    );
    const rows = await decided(campaignId, 5);
    expect(rows.filter((r) => r.status === "sent")).toHaveLength(2);
    const deferred = rows.filter((r) => r.status === "queued");
    expect(deferred.map((r) => [r.reason, iso(r.nextAttemptAt)])).toEqual(Array(3).fill(["rate_limit", "2026-03-15T12:00:00.500Z"]));

    const sentAt = async () => (await sendsOf(campaignId)).filter((r) => r.status === "sent").map((r) => iso(r.sentAt)).sort();
    clock.set("2026-03-15T12:00:00.499Z");
    await dispatcher.idle();
    expect(await sentAt()).toHaveLength(2);
    for (const t of ["2026-03-15T12:00:00.500Z", "2026-03-15T12:00:01.000Z", "2026-03-15T12:00:01.500Z"]) {
      clock.set(t);
      await dispatcher.idle();
    }
    expect(await sentAt()).toEqual([
      "2026-03-15T12:00:00.000Z",
      "2026-03-15T12:00:00.000Z",
      "2026-03-15T12:00:00.500Z",
      "2026-03-15T12:00:01.000Z",
      "2026-03-15T12:00:01.500Z",
    ]);
    expect(sms.sent.filter((m) => users.some((x) => x.phone === m.to))).toHaveLength(5);
  });

  it("a batch run with scheduledAt starts by itself when the clock reaches that time", async () => {
    clock.set("2026-03-16T08:00:00.000Z");
    const seg = await segment();
    const members = Array.from({ length: 30 }, (_, i) => `sched-${run}-${String(i).padStart(2, "0")}`);
    await env.db.db.insert(userProfiles).values(members.map((userId, i) => ({ userId, phone: `+4915180${String(i).padStart(6, "0")}` })));
    await env.rt.memberships.apply(members.map((userId) => ({ userId, segmentId: seg, kind: "enter" as const, at: clock.now().getTime(), cause: "event" as const, version: 1 })));
    const campaignId = await campaign(seg, { trigger: "BATCH", template: "Morning sale", scheduledAt: "2026-03-16T09:00:00Z" });
    const runsOf = async () => (await call(campaignItem.GET, "GET", { params: { campaignId } })).body.runs as { status: string; startedAt: string | null }[];
    expect(await runsOf()).toMatchObject([{ status: "SCHEDULED", scheduledAt: "2026-03-16T09:00:00.000Z", startedAt: null }]);

    // The dispatcher polls every 20 ms; a second before the time, many polls leave it alone.
    clock.set("2026-03-16T08:59:59.000Z");
    await new Promise((r) => setTimeout(r, 300));
    expect(await runsOf()).toMatchObject([{ status: "SCHEDULED" }]);
    expect(await sendsOf(campaignId)).toEqual([]);

    clock.set("2026-03-16T09:00:00.000Z");
    const [done] = await eventually(runsOf, (r) => r[0]?.status === "COMPLETED", "the scheduled run");
    expect(done).toMatchObject({ startedAt: "2026-03-16T09:00:00.000Z", total: 30, progress: { sent: 30, skipped: 0, failed: 0, remaining: 0 } });
    expect(sms.sent.filter((m) => m.body === "Morning sale").map((m) => m.at)).toEqual(Array(30).fill("2026-03-16T09:00:00.000Z"));
  });

  // Last: it swaps the dispatcher for one with a per-channel limit (CHANNEL_RATE_LIMITS).
  it("the per-channel rate limit holds across campaigns: two campaigns on sms share 2 messages/s", async () => {
    await dispatcher.close();
    dispatcher = await startWith({ groupId: `dispatcher-channel-limit-${run}`, pollMs: 20, channelRateLimits: { sms: 2 } });
    clock.set("2026-03-17T12:00:00.000Z");
    const seg = await segment();
    const a = await campaign(seg, {});
    const b = await campaign(seg, { policy: { rateLimitPerSecond: 100 } });
    const users: { userId: string; phone: string }[] = [];
    for (let i = 0; i < 2; i++) users.push(await user(`chan${i}`));
    await enter(seg, users.map((x) => x.userId));
    const rows = [...(await decided(a, 2)), ...(await decided(b, 2))];
    // 4 messages for the channel: 2 now (its burst), the others at 1/rate s apart.
    expect(rows.filter((r) => r.status === "sent")).toHaveLength(2);
    expect(rows.filter((r) => r.status === "queued").every((r) => r.reason === "rate_limit")).toBe(true);
    for (const t of ["2026-03-17T12:00:00.500Z", "2026-03-17T12:00:01.000Z"]) {
      clock.set(t);
      await dispatcher.idle();
    }
    const sentAt = [...(await sendsOf(a)), ...(await sendsOf(b))].filter((r) => r.status === "sent").map((r) => iso(r.sentAt)).sort();
    expect(sentAt).toEqual(["2026-03-17T12:00:00.000Z", "2026-03-17T12:00:00.000Z", "2026-03-17T12:00:00.500Z", "2026-03-17T12:00:01.000Z"]);
  });
});
