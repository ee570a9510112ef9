import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { campaignSends } from "@/db/schema";
import { createCampaignStore } from "@/lib/adapters/db/campaign-store";
import { createSendStore } from "@/lib/adapters/db/send-store";
import { createRunStore } from "@/lib/adapters/db/run-store";
import { userProfiles } from "@/db/schema";
import * as campaignItem from "@/app/api/v1/campaigns/[campaignId]/route";
import * as trigger from "@/app/api/v1/campaigns/[campaignId]/trigger/route";
import type { ChannelType } from "@/lib/campaigns/campaign";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { ProviderError, type MessageSender, type OutboundMessage } from "@/lib/ports/messages";
import type { Subscription } from "@/lib/ports/event-log";
import type { ProfileStore } from "@/lib/ports/profiles";
import { TOPICS, type DeadLetter } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { call } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as campaignsRoute from "@/app/api/v1/campaigns/route";
import * as campaignStatus from "@/app/api/v1/campaigns/[campaignId]/status/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";
import { startCampaignDispatcher, type Dispatcher } from "./campaign-dispatcher";

/** A provider double that records what it was asked to send and can be told to fail. */
class RecordingSender implements MessageSender {
  sent: OutboundMessage[] = [];
  failures: ProviderError[] = [];
  constructor(readonly channel: ChannelType) {}
  async send(message: OutboundMessage) {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(message);
    return { providerMessageId: `msg-${this.sent.length}` };
  }
}


describe.each(engineCases)("campaign dispatcher on $name (ON_ENTER / ON_EXIT)", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let dispatcher: Dispatcher;
  const email = new RecordingSender("email");
  const sms = new RecordingSender("sms");
  const run = Math.random().toString(36).slice(2, 8);
  const deadLetters: DeadLetter[] = [];
  let deadLetterSub: Subscription;

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    deadLetterSub = await env.log.subscribe({
      groupId: `dead-letter-reader-${run}`,
      topics: [TOPICS.deadLetters],
      fromBeginning: false,
      handleBatch: async (batch) => {
        for (const m of batch.messages) deadLetters.push(JSON.parse(m.value) as DeadLetter);
      },
    });
    // A profile this dispatcher cannot read (think: encrypted under a key it no longer has).
    const unreadable = (userId: string) => userId.startsWith("unreadable-");
    const profiles: ProfileStore = {
      ...env.rt.profiles,
      get: (userId) => (unreadable(userId) ? Promise.reject(new Error("cannot decrypt the profile")) : env.rt.profiles.get(userId)),
      getMany: async (userIds) => {
        const found = await env.rt.profiles.getMany(userIds);
        for (const userId of userIds) if (unreadable(userId)) found.set(userId, new Error("cannot decrypt the profile"));
        return found;
      },
    };
    installRuntime({ ...env.rt, campaignDeps: { ...env.rt.campaignDeps, channels: new Set(["email", "sms"] as const) } });
    dispatcher = await startCampaignDispatcher(
      {
        eventLog: env.log,
        campaigns: createCampaignStore(env.db.db),
        sends: createSendStore(env.db.db),
        profiles,
        segments: env.rt.segments,
        senders: new Map<ChannelType, MessageSender>([
          ["email", email],
          ["sms", sms],
        ]),
        runs: createRunStore(env.db.db),
        memberships: env.rt.memberships,
        clock: env.rt.clock,
        log: env.rt.log,
        random: () => 0,
      },
      { groupId: `dispatcher-test-${run}`, pollMs: 50, retryBaseMs: 10, retryMaxMs: 50, runPageSize: 250 },
    );
  });
  afterAll(async () => {
    await deadLetterSub?.close();
    await dispatcher?.close();
    uninstallRuntime();
    await env?.close();
  });

  async function campaign(body: Record<string, unknown>) {
    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `vip ${run} ${Math.random()}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    const c = await call(campaignsRoute.POST, "POST", { body: { name: `c ${run} ${Math.random()}`, segmentId: seg.body.id, ...body } });
    expect(c.status).toBe(201);
    expect((await call(campaignStatus.PATCH, "PATCH", { params: { campaignId: c.body.id }, body: { status: "ACTIVE" } })).status).toBe(200);
    return { segmentId: seg.body.id as string, campaignId: c.body.id as string };
  }

  /** A transition as the segment processor publishes it. */
  async function transition(userId: string, segmentId: string, kind: "enter" | "exit", at: number) {
    const value = JSON.stringify({ id: `${userId}|${segmentId}|${kind}|${at}`, userId, segmentId, kind, at, cause: "event", version: 1 });
    await env.log.append(TOPICS.segmentMemberships, [{ key: userId, value }]);
    return value;
  }

  const sendsOf = (campaignId: string) => env.db.db.select().from(campaignSends).where(eq(campaignSends.campaignId, campaignId));

  it("sends one rendered email per entry, never twice for a redelivered transition", async () => {
    const { segmentId, campaignId } = await campaign({
      channelType: "email",
      trigger: "ON_ENTER",
      subject: "Welcome, {{user.attributes.firstName}}",
      template: "<p>Hi {{user.attributes.firstName}} — you are in {{segment.name}} & more</p>",
    });
    const u = `ada-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: "ada@example.com", attributes: { firstName: "Ada <3" } } });
    const at = Date.now();
    await transition(u, segmentId, "enter", at);
    await transition(u, segmentId, "enter", at); // redelivered: same transition id
    await transition(u, segmentId, "exit", at + 1); // not an ON_EXIT campaign
    const rows = await eventually(() => sendsOf(campaignId), (r) => r.some((x) => x.status === "sent"), "the send");
    await dispatcher.idle();
    expect((await sendsOf(campaignId)).map((r) => r.status)).toEqual(["sent"]);
    expect(rows[0]).toMatchObject({ userId: u, channel: "email", attempts: 1, providerMessageId: expect.stringMatching(/^msg-/) });
    const mine = email.sent.filter((m) => m.channel === "email" && m.to === "ada@example.com");
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      subject: "Welcome, Ada <3",
      html: expect.stringContaining("Hi Ada &lt;3 — you are in vip"),
      text: expect.stringContaining("Hi Ada <3 — you are in vip"),
    });
  });

  it("fires ON_EXIT campaigns on exits, and a new entry after an exit is a new send", async () => {
    const { segmentId, campaignId } = await campaign({ channelType: "sms", trigger: "ON_EXIT", template: "We miss you at {{campaign.name}}" });
    const u = `bob-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { phone: "+4915112345678" } });
    const t = Date.now();
    await transition(u, segmentId, "exit", t);
    await transition(u, segmentId, "exit", t + 5000);
    await eventually(() => sendsOf(campaignId), (r) => r.filter((x) => x.status === "sent").length === 2, "two exits, two sends");
    expect(sms.sent.filter((m) => m.channel === "sms" && m.to === "+4915112345678")).toHaveLength(2);
  });

  it("skips with a reason: no address, a variable the user lacks", async () => {
    const { segmentId, campaignId } = await campaign({
      channelType: "email",
      trigger: "ON_ENTER",
      subject: "Hi",
      template: "Dear {{user.attributes.firstName}}",
    });
    const noEmail = `noemail-${run}`;
    const noName = `noname-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: noEmail }, body: { phone: "+4915112345678" } });
    await call(profile.PUT, "PUT", { params: { userId: noName }, body: { email: "x@example.com" } });
    await transition(noEmail, segmentId, "enter", Date.now());
    await transition(noName, segmentId, "enter", Date.now());
    await transition(`ghost-${run}`, segmentId, "enter", Date.now());
    const rows = await eventually(() => sendsOf(campaignId), (r) => r.length === 3 && r.every((x) => x.status === "skipped"), "three skips");
    const reasons = Object.fromEntries(rows.map((r) => [r.userId, r.reason]));
    expect(reasons[noEmail]).toBe("no_email_address");
    expect(reasons[noName]).toMatch(/^missing_variable/);
    expect(reasons[`ghost-${run}`]).toBe("no_profile");
  });

  it("retries transient provider errors with backoff and fails permanent ones at once", async () => {
    const { segmentId, campaignId } = await campaign({ channelType: "sms", trigger: "ON_ENTER", template: "Hello" });
    const a = `retry-${run}`;
    const b = `perm-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: a }, body: { phone: "+4915100000001" } });
    await call(profile.PUT, "PUT", { params: { userId: b }, body: { phone: "+4915100000002" } });
    sms.failures.push(new ProviderError("busy", 503, null), new ProviderError("busy", 429, null));
    await transition(a, segmentId, "enter", Date.now());
    const retried = await eventually(() => sendsOf(campaignId), (r) => r.some((x) => x.userId === a && x.status === "sent"), "the retried send");
    expect(retried.find((x) => x.userId === a)!.attempts).toBe(3);
    sms.failures.push(new ProviderError("Invalid 'To' Phone Number", 400, "21211"));
    await transition(b, segmentId, "enter", Date.now());
    const failed = await eventually(() => sendsOf(campaignId), (r) => r.some((x) => x.userId === b && x.status === "failed"), "the permanent failure");
    expect(failed.find((x) => x.userId === b)).toMatchObject({ attempts: 1, reason: expect.stringMatching(/^permanent/) });
  });

  it("applies the frequency cap across sends", async () => {
    const { segmentId, campaignId } = await campaign({
      channelType: "sms",
      trigger: "ON_ENTER",
      template: "Deal!",
      policy: { frequencyCap: { maxMessages: 1, windowHours: 24 } },
    });
    const u = `capped-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { phone: "+4915100000003" } });
    await transition(u, segmentId, "enter", Date.now());
    await eventually(() => sendsOf(campaignId), (r) => r.some((x) => x.status === "sent"), "the first send");
    await transition(u, segmentId, "enter", Date.now() + 10);
    const rows = await eventually(() => sendsOf(campaignId), (r) => r.length === 2 && r.every((x) => x.status !== "queued"), "the capped send");
    expect(rows.map((r) => r.status).sort()).toEqual(["sent", "skipped"]);
    expect(rows.find((r) => r.status === "skipped")!.reason).toBe("frequency_cap");
  });

  it("a batch run sends exactly one message to every member, and reports progress", async () => {
    const { segmentId, campaignId } = await campaign({ channelType: "sms", trigger: "BATCH", template: "Flash sale for {{segment.name}}" });
    const n = 2_000;
    const users = Array.from({ length: n }, (_, i) => `batch-${run}-${String(i).padStart(5, "0")}`);
    await env.db.db.insert(userProfiles).values(users.map((userId, i) => ({ userId, phone: `+49151${String(10_000_000 + i)}` })));
    await env.rt.memberships.apply(
      users.map((userId) => ({ userId, segmentId, kind: "enter" as const, at: Date.now(), cause: "event" as const, version: 1 })),
    );
    const before = sms.sent.length;
    const started = await call(trigger.POST, "POST", { params: { campaignId } });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ campaignId, status: "SCHEDULED" });
    const done = await eventually(
      async () => (await call(campaignItem.GET, "GET", { params: { campaignId } })).body,
      (b) => b.runs?.[0]?.status === "COMPLETED",
      "the batch run",
      90_000,
    );
    expect(done.runs[0]).toMatchObject({ total: n, progress: { sent: n, skipped: 0, failed: 0, queued: 0, remaining: 0 } });
    const mine = sms.sent.slice(before).filter((m) => m.channel === "sms" && m.body.startsWith("Flash sale"));
    expect(mine).toHaveLength(n);
    expect(new Set(mine.map((m) => m.channel === "sms" && m.to)).size).toBe(n);
    // A campaign that is not BATCH, or not ACTIVE, cannot be triggered.
    const onEnter = await campaign({ channelType: "sms", trigger: "ON_ENTER", template: "x" });
    expect((await call(trigger.POST, "POST", { params: { campaignId: onEnter.campaignId } })).status).toBe(409);
  }, 120_000);
  it("dead-letters garbage and foreign messages on both topics, and goes on with the next transition", async () => {
    const { segmentId, campaignId } = await campaign({ channelType: "sms", trigger: "ON_ENTER", template: "After the poison" });
    const u = `poisoned-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { phone: "+4915100000077" } });
    const before = dispatcher.status();
    const t = (over: Record<string, unknown>) =>
      JSON.stringify({ id: `${u}|${segmentId}|enter|1`, userId: u, segmentId, kind: "enter", at: 1, cause: "event", version: 1, ...over });
    // Keyed like the valid transition after them: the same partition, which they must not block.
    await env.log.append(TOPICS.segmentMemberships, [
      { key: u, value: "{not json" },
      { key: u, value: JSON.stringify({ hello: "world" }) },
      { key: u, value: t({ segmentId: "not-a-uuid" }) },
      // Valid, but a user id PostgreSQL cannot store (NUL): the send record is refused.
      { key: u, value: t({ userId: `${u}\u0000`, id: `${u}\u0000|${segmentId}|enter|1` }) },
      // A segment this database does not have: no campaign to fire, nothing to dead-letter.
      { key: u, value: t({ segmentId: randomUUID() }) },
    ]);
    await env.log.append(TOPICS.campaignTriggers, [
      { key: campaignId, value: "[]" },
      { key: campaignId, value: JSON.stringify({ runId: randomUUID(), campaignId }) },
    ]);
    await transition(u, segmentId, "enter", Date.now());
    await eventually(() => sendsOf(campaignId), (r) => r.some((x) => x.userId === u && x.status === "sent"), "the send after the poison");
    expect(sms.sent.filter((m) => m.channel === "sms" && m.to === "+4915100000077")).toHaveLength(1);

    const mine = await eventually(
      () => deadLetters.filter((d) => d.source?.key === u || d.source?.key === campaignId),
      (l) => l.length >= 6,
      "six dead letters",
    );
    expect(mine.map((d) => [d.source!.topic, d.reason]).sort()).toEqual(
      [
        [TOPICS.campaignTriggers, "unknown-run"],
        [TOPICS.campaignTriggers, "unparseable"],
        [TOPICS.segmentMemberships, "invalid-data"],
        [TOPICS.segmentMemberships, "unparseable"],
        [TOPICS.segmentMemberships, "unparseable"],
        [TOPICS.segmentMemberships, "unparseable"],
      ].sort(),
    );
    expect(mine.every((d) => d.consumer === "campaign-dispatcher")).toBe(true);
    expect(mine.find((d) => d.source!.topic === TOPICS.segmentMemberships && d.value.includes("not-a-uuid"))!.error).toMatch(/^segmentId: /);
    expect(mine.find((d) => d.reason === "invalid-data")!.error).toMatch(/22021|null character|0x00/i);
    const after = dispatcher.status();
    const delta = (reason: string) => (after.deadLetters[reason] ?? 0) - (before.deadLetters[reason] ?? 0);
    expect([delta("unparseable"), delta("unknown-run"), delta("invalid-data")]).toEqual([4, 1, 1]);
  });

  it("a send that cannot be prepared (unreadable profile) is retried, then failed, without holding up others", async () => {
    const { segmentId, campaignId } = await campaign({ channelType: "sms", trigger: "ON_ENTER", template: "Hello" });
    const bad = `unreadable-${run}`;
    const good = `readable-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: good }, body: { phone: "+4915100000078" } });
    const before = dispatcher.status().sendErrors;
    await transition(bad, segmentId, "enter", Date.now());
    await transition(good, segmentId, "enter", Date.now());
    const rows = await eventually(
      () => sendsOf(campaignId),
      (r) => r.length === 2 && r.every((x) => x.status === "sent" || x.status === "failed"),
      "one sent, one failed",
    );
    expect(rows.find((r) => r.userId === good)).toMatchObject({ status: "sent", attempts: 1 });
    // Five attempts (maxAttempts), none of which reached the provider.
    expect(rows.find((r) => r.userId === bad)).toMatchObject({ status: "failed", attempts: 5, reason: "error: cannot decrypt the profile" });
    expect(dispatcher.status().sendErrors - before).toBe(5);
  });
});

