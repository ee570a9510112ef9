/**
 * End to end through the whole platform: events in over REST → the segment processor → a
 * membership transition → the campaign dispatcher → an email at a real SMTP server.
 */
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmtpSender } from "@/lib/adapters/channels/smtp";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender } from "@/lib/ports/messages";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { eventually } from "@/test/support/wait";
import { call } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as campaignsRoute from "@/app/api/v1/campaigns/route";
import * as campaignItem from "@/app/api/v1/campaigns/[campaignId]/route";
import * as campaignStatus from "@/app/api/v1/campaigns/[campaignId]/status/route";
import * as preview_ from "@/app/api/v1/campaigns/[campaignId]/preview/route";
import * as analytics_ from "@/app/api/v1/campaigns/[campaignId]/analytics/route";
import * as events from "@/app/api/v1/events/route";
import * as profile from "@/app/api/v1/users/[userId]/profile/route";


describe.each(engineCases)("campaigns end to end on $name: an entry or exit sends a real email", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let smtp: SMTPServer;
  const mail: ParsedMail[] = [];
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((m) => mail.push(m))
          .then(() => callback(), callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const senders = new Map<ChannelType, MessageSender>([
      ["email", createSmtpSender({ url: `smtp://127.0.0.1:${port}`, from: "Audience Manager <noreply@example.com>" })],
    ]);
    env = await openTestRuntime(engine, {
      workers: true,
      senders,
      dispatcher: { unsubscribe: (userId, campaignId) => `https://example.com/unsubscribe?u=${userId}&c=${campaignId}` },
    });
    installRuntime(env.rt);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
  });

  async function activeCampaign(rule: Record<string, unknown>, campaign: Record<string, unknown>) {
    const seg = await call(segmentsRoute.POST, "POST", { body: { name: `e2e ${run} ${Math.random()}`, rules: [rule] } });
    const c = await call(campaignsRoute.POST, "POST", { body: { name: `e2e campaign ${run}`, segmentId: seg.body.id, channelType: "email", ...campaign } });
    expect(c.status).toBe(201);
    expect((await call(campaignStatus.PATCH, "PATCH", { params: { campaignId: c.body.id }, body: { status: "ACTIVE" } })).status).toBe(200);
    await env.rt.relay.flush();
    return { segmentId: seg.body.id as string, campaignId: c.body.id as string };
  }

  it("an entry sends the rendered template to the user's address, once", async () => {
    const { campaignId } = await activeCampaign(
      { eventType: "addToCart", attribute: "count", operator: "GTE", value: 2, windowMinutes: 60 },
      {
        trigger: "ON_ENTER",
        subject: "{{user.attributes.firstName}}, your cart misses you",
        template: "<h1>Hi {{user.attributes.firstName}}</h1><p>You are in <b>{{segment.name}}</b>.</p>",
      },
    );
    const u = `shopper-${run}`;
    const to = `${u}@example.com`;
    expect((await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: to, attributes: { firstName: "Grace & Co" } } })).status).toBe(201);
    const now = Date.now();
    await call(events.POST, "POST", { body: { events: [0, 1].map((i) => ({ userId: u, eventType: "addToCart", timestamp: now + i, attributes: {} })) } });
    const got = await eventually(() => mail.filter((m) => m.to && JSON.stringify(m.to).includes(to)), (l) => l.length >= 1, "the email", 30_000);
    expect(got[0]!.subject).toBe("Grace & Co, your cart misses you");
    expect(got[0]!.html).toContain("<h1>Hi Grace &amp; Co</h1>");
    expect(got[0]!.text).toContain("Hi Grace & Co");
    expect(got[0]!.headers.get("x-audience-send-id")).toBeTruthy();
    // mailparser files List-* headers under "list".
    expect(JSON.stringify(got[0]!.headers.get("list"))).toContain(`https://example.com/unsubscribe?u=${u}`);
    // More events while still a member: no second entry, no second email.
    await call(events.POST, "POST", { body: { events: [{ userId: u, eventType: "addToCart", timestamp: Date.now(), attributes: {} }] } });
    await env.rt.processor!.idle();
    await env.rt.dispatcher!.idle();
    expect(mail.filter((m) => JSON.stringify(m.to).includes(to))).toHaveLength(1);
    const stats = await call(campaignItem.GET, "GET", { params: { campaignId } });
    expect(stats.body.delivery).toMatchObject({ total: 1, byStatus: { sent: 1 } });

    // The preview renders what this user gets; a user the template cannot serve is a 400.
    const preview = await call(preview_.POST, "POST", { params: { campaignId }, body: { userId: u } });
    expect(preview.body).toMatchObject({ channel: "email", to, subject: "Grace & Co, your cart misses you" });
    const stranger = `stranger-${run}`;
    await call(profile.PUT, "PUT", { params: { userId: stranger }, body: { email: "s@example.com" } });
    const cannot = await call(preview_.POST, "POST", { params: { campaignId }, body: { userId: stranger } });
    expect(cannot.status).toBe(400);
    expect(cannot.body.error.message).toContain("firstName");

    // An order after the send is a conversion.
    await call(events.POST, "POST", { body: { events: [{ userId: u, eventType: "orders", timestamp: Date.now() + 5, attributes: { value: 20 } }] } });
    await env.rt.processor!.idle();
    const analytics = await eventually(
      async () => (await call(analytics_.GET, "GET", { params: { campaignId }, query: { bucket: "hour" } })).body,
      (b) => b.conversions?.converted === 1,
      "the conversion",
      30_000,
    );
    expect(analytics).toMatchObject({ delivery: { total: 1 }, conversions: { sent: 1, converted: 1, rate: 1, windowHours: 24 } });
    expect(analytics.series).toEqual([expect.objectContaining({ channel: "email", status: "sent", count: 1 })]);
  }, 60_000);

  it("an ON_EXIT campaign fires on a time-driven exit", async () => {
    await activeCampaign(
      { eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 1 },
      { trigger: "ON_EXIT", subject: "Come back", template: "We have not seen you for a minute." },
    );
    const u = `leaver-${run}`;
    const to = `${u}@example.com`;
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { email: to } });
    // Clicked 57 s ago: leaves the 1-minute window about 3 s from now, with no new event.
    await call(events.POST, "POST", { body: { events: [{ userId: u, eventType: "clicks", timestamp: Date.now() - 57_000, attributes: {} }] } });
    const got = await eventually(() => mail.filter((m) => JSON.stringify(m.to).includes(to)), (l) => l.length >= 1, "the exit email", 30_000);
    expect(got[0]!.subject).toBe("Come back");
  }, 60_000);
});
