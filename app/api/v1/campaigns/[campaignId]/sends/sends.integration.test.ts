/**
 * The sends list and the unsaved-draft preview: a BATCH email campaign run against a real SMTP
 * server, its sends paged and filtered; drafts rendered for a user with the save-time checks.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmtpSender } from "@/lib/adapters/channels/smtp";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender } from "@/lib/ports/messages";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { call, expectSeedError } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as campaignsRoute from "@/app/api/v1/campaigns/route";
import * as campaignItem from "@/app/api/v1/campaigns/[campaignId]/route";
import * as campaignStatus from "@/app/api/v1/campaigns/[campaignId]/status/route";
import * as trigger from "@/app/api/v1/campaigns/[campaignId]/trigger/route";
import * as draftPreview from "@/app/api/v1/campaigns/preview/route";
import * as events from "@/app/api/v1/events/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";
import * as sends from "./route";

describe.each(engineCases)("campaign sends and draft previews on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let smtp: SMTPServer;
  let received = 0;
  const run = Math.random().toString(36).slice(2, 8);
  let segmentId: string;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _session, callback) {
        stream.resume();
        stream.on("end", () => {
          received++;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const senders = new Map<ChannelType, MessageSender>([
      ["email", createSmtpSender({ url: `smtp://127.0.0.1:${port}`, from: "Audience Manager <noreply@example.com>" })],
    ]);
    env = await openTestRuntime(engine, { workers: true, senders });
    installRuntime(env.rt);
    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `sends ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    segmentId = seg.body.id;
    await env.rt.relay.flush();
    await eventually(() => env.rt.processor!.hasDefinition(segmentId, 1), Boolean, "the processor to know the segment");
  }, 60_000);
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
  });

  it("lists a batch run's sends newest first, by status and page by page", async () => {
    const users = ["a", "b", "c"].map((x) => `${x}-${run}`);
    for (const u of users) await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: `${u}@example.com`, attributes: { name: u } } });
    const noEmail = `z-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: noEmail }, body: { phone: "+4915112345678" } });
    const now = Date.now();
    await call(events.POST, "POST", { body: { events: [...users, noEmail].map((userId) => ({ userId, eventType: "clicks", timestamp: now, attributes: {} })) } });
    await env.rt.processor!.idle();
    await eventually(() => env.rt.memberships.countMembers(segmentId), (n) => n === 4, "four members");

    const c = await call(campaignsRoute.POST, "POST", {
      body: { name: `batch ${run}`, segmentId, channelType: "email", trigger: "BATCH", subject: "Hi {{user.attributes.name}}", template: "<p>Hello</p>" },
    });
    expect(c.status).toBe(201);
    const id = c.body.id as string;
    expect((await call(sends.GET, "GET", { params: { campaignId: id } })).body).toEqual({ campaignId: id, data: [], next: null });
    expect((await call(campaignStatus.PATCH, "PATCH", { params: { campaignId: id }, body: { status: "ACTIVE" } })).status).toBe(200);
    expect((await call(trigger.POST, "POST", { params: { campaignId: id } })).status).toBeLessThan(300);
    await eventually(
      async () => (await call(campaignItem.GET, "GET", { params: { campaignId: id } })).body.runs?.[0]?.status,
      (s) => s === "COMPLETED",
      "the run to complete",
      30_000,
    );

    const all = (await call(sends.GET, "GET", { params: { campaignId: id } })).body;
    expect(all.data).toHaveLength(4);
    expect(all.next).toBeNull();
    const ids = all.data.map((s: { id: number }) => s.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(all.data.map((s: { userId: string }) => s.userId))).toEqual(new Set([...users, noEmail]));

    const sent = (await call(sends.GET, "GET", { params: { campaignId: id }, query: { status: "sent" } })).body.data;
    expect(sent).toHaveLength(3);
    expect(sent.every((s: { sentAt: string | null; attempts: number }) => s.sentAt !== null && s.attempts === 1)).toBe(true);
    expect(received).toBe(3);
    const skipped = (await call(sends.GET, "GET", { params: { campaignId: id }, query: { status: "skipped" } })).body.data;
    expect(skipped).toEqual([expect.objectContaining({ userId: noEmail, reason: expect.stringMatching(/email/i) })]);

    const first = (await call(sends.GET, "GET", { params: { campaignId: id }, query: { limit: "3" } })).body;
    expect(first.data).toHaveLength(3);
    expect(first.next).toBe(first.data[2].id);
    const second = (await call(sends.GET, "GET", { params: { campaignId: id }, query: { limit: "3", before: String(first.next) } })).body;
    expect(second.data.map((s: { id: number }) => s.id)).toEqual([ids[3]]);
    expect(second.next).toBeNull();

    const bad = await call(sends.GET, "GET", { params: { campaignId: id }, query: { status: "lost" } });
    expectSeedError(bad.body, "VALIDATION_ERROR", "status");
    const missing = await call(sends.GET, "GET", { params: { campaignId: "00000000-0000-4000-8000-000000000000" } });
    expect(missing.status).toBe(404);
  }, 60_000);

  it("previews an unsaved draft for a user, with the checks a save makes", async () => {
    const u = `p-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: `${u}@example.com`, attributes: { firstName: "Ada & Co" } } });
    const draft = {
      userId: u,
      name: "Spring",
      segmentId,
      channelType: "email",
      subject: "{{user.attributes.firstName}}, spring is here",
      template: "<p>Hi {{user.attributes.firstName}} from {{segment.name}}</p>",
    };
    const ok = await call(draftPreview.POST, "POST", { body: draft });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ campaignId: null, channel: "email", to: `${u}@example.com`, subject: "Ada & Co, spring is here" });
    expect(ok.body.html).toContain(`Hi Ada &amp; Co from sends ${run}`);

    const sms = await call(draftPreview.POST, "POST", { body: { userId: u, channelType: "sms", template: "{{campaign.name}}!" } });
    expect(sms.body).toMatchObject({ channel: "sms", body: "Untitled campaign!" });

    const broken = await call(draftPreview.POST, "POST", { body: { ...draft, template: "Hi {{user.attributes.firstName" } });
    expectSeedError(broken.body, "VALIDATION_ERROR", "template");
    const noSubject = await call(draftPreview.POST, "POST", { body: { ...draft, subject: undefined } });
    expectSeedError(noSubject.body, "VALIDATION_ERROR", "subject");
    const lacks = await call(draftPreview.POST, "POST", { body: { ...draft, template: "{{user.attributes.lastName}}" } });
    expectSeedError(lacks.body, "VALIDATION_ERROR", "userId");
    expect(lacks.body.error.message).toContain("lastName");
    const stranger = await call(draftPreview.POST, "POST", { body: { ...draft, userId: `nobody-${run}` } });
    expect(stranger.status).toBe(404);
  });
});
