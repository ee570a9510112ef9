/**
 * End to end through the whole platform, on each engine: events in over REST → the segment
 * processor → a membership transition → the campaign dispatcher → a message at a local provider
 * speaking the real protocol: an email at an SMTP server, an SMS at a Twilio-shaped HTTP API, a
 * Web Push at a push service that verifies the VAPID JWT and decrypts the payload.
 */
import { eq } from "drizzle-orm";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { campaignSends } from "@/db/schema";
import { createSmsSender, createSmtpSender, createWebPushSender } from "@/lib/adapters/channels";
import { sendKey, type ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender } from "@/lib/ports/messages";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import {
  startPushService,
  startSmtpReceiver,
  startTwilioReceiver,
  type PushService,
  type SmtpReceiver,
  type TwilioReceiver,
} from "@/test/support/channel-receivers";
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

const vapid = webpush.generateVAPIDKeys();

describe.each(engineCases)("campaigns end to end on $name: an entry or exit sends a real message", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let smtp: SmtpReceiver;
  let twilio: TwilioReceiver;
  let push: PushService;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    [smtp, twilio, push] = await Promise.all([startSmtpReceiver(), startTwilioReceiver(), startPushService(vapid.publicKey)]);
    const senders = new Map<ChannelType, MessageSender>([
      ["email", createSmtpSender({ url: smtp.url, from: "Audience Manager <noreply@example.com>" })],
      ["sms", createSmsSender({ baseUrl: twilio.baseUrl, accountSid: twilio.accountSid, authToken: twilio.authToken, from: "+15005550000" })],
      ["push", createWebPushSender({ publicKey: vapid.publicKey, privateKey: vapid.privateKey, subject: "mailto:ops@example.com", agent: push.agent })],
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
    await Promise.all([smtp?.close(), twilio?.close(), push?.close()]);
  });

  const sendsOf = (campaignId: string) => env.db.db.select().from(campaignSends).where(eq(campaignSends.campaignId, campaignId));

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
    const got = await eventually(() => smtp.to(to), (l) => l.length >= 1, "the email", 30_000);
    expect(got[0]!.subject).toBe("Grace & Co, your cart misses you");
    expect(got[0]!.from?.text).toBe('"Audience Manager" <noreply@example.com>');
    expect(got[0]!.html).toContain("<h1>Hi Grace &amp; Co</h1>");
    expect(got[0]!.text).toContain("Hi Grace & Co");
    expect(got[0]!.headers.get("x-audience-send-id")).toBeTruthy();
    // RFC 2369 List-Unsubscribe and RFC 8058 one-click, as written on the wire.
    const header = (name: string) => got[0]!.headerLines.find((h) => h.key === name)?.line.replace(/\r\n[ \t]+/g, " ");
    expect(header("list-unsubscribe")).toBe(`List-Unsubscribe: <https://example.com/unsubscribe?u=${u}&c=${campaignId}>`);
    expect(header("list-unsubscribe-post")).toBe("List-Unsubscribe-Post: List-Unsubscribe=One-Click");
    // More events while still a member: no second entry, no second email.
    await call(events.POST, "POST", { body: { events: [{ userId: u, eventType: "addToCart", timestamp: Date.now(), attributes: {} }] } });
    await env.rt.processor!.idle();
    await env.rt.dispatcher!.idle();
    expect(smtp.to(to)).toHaveLength(1);
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
    const got = await eventually(() => smtp.to(to), (l) => l.length >= 1, "the exit email", 30_000);
    expect(got[0]!.subject).toBe("Come back");
    expect(got[0]!.text?.trim()).toBe("We have not seen you for a minute.");
    // The exit was time-driven: the window slid past the click, no event caused it.
    const history = await env.rt.history.ofUser(u, { limit: 10 });
    expect(history.entries.map((h) => h.exitCause)).toEqual(["time"]);
  }, 60_000);
  it("an entry sends an SMS to an HTTP API of the Twilio shape, once", async () => {
    const { segmentId, campaignId } = await activeCampaign(
      { eventType: "installs", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 },
      { channelType: "sms", trigger: "ON_ENTER", template: "Welcome {{user.attributes.firstName}}, you are in {{segment.name}} & more" },
    );
    const u = `texter-${run}`;
    const phone = "+4915112340001";
    await call(profile.PUT, "PUT", { params: { userId: u }, body: { phone, attributes: { firstName: "Ada <3" } } });
    await call(events.POST, "POST", { body: { events: [{ userId: u, eventType: "installs", timestamp: Date.now(), attributes: {} }] } });
    const got = await eventually(() => twilio.messages.filter((m) => m.to === phone), (l) => l.length >= 1, "the SMS", 30_000);
    // Plain text, not HTML-escaped: an SMS is not markup.
    expect(got[0]).toMatchObject({ from: "+15005550000", body: expect.stringMatching(/^Welcome Ada <3, you are in e2e .* & more$/) });
    const [row] = await eventually(() => sendsOf(campaignId), (r) => r[0]?.status === "sent", "the send record");
    expect(row!.providerMessageId).toBe(got[0]!.sid);
    expect(got[0]!.idempotencyToken).toBe(sendKey({ campaignId, userId: u, transitionId: row!.transitionId! }));
    expect(row!.transitionId).toMatch(new RegExp(`^${u}\\|${segmentId}\\|enter\\|`));
    await env.rt.processor!.idle();
    await env.rt.dispatcher!.idle();
    expect(twilio.messages.filter((m) => m.to === phone)).toHaveLength(1);
    expect(twilio.refusals).toEqual([]);
  }, 60_000);

  it("an entry sends a Web Push the push service verifies (VAPID) and the browser can decrypt", async () => {
    const { campaignId } = await activeCampaign(
      { eventType: "clicks", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 },
      { channelType: "push", trigger: "ON_ENTER", name: `Flash sale ${run}`, template: "{{user.attributes.firstName}}, 20% off in {{segment.name}}" },
    );
    const u = `pushed-${run}`;
    const phoneSub = push.subscribe(`${u}-phone`);
    const laptopSub = push.subscribe(`${u}-laptop`);
    await call(profile.PUT, "PUT", {
      params: { userId: u },
      body: { deviceTokens: [phoneSub, "an-fcm-registration-token", laptopSub], attributes: { firstName: "Grace" } },
    });
    const now = Date.now();
    await call(events.POST, "POST", { body: { events: [0, 1, 2].map((i) => ({ userId: u, eventType: "clicks", timestamp: now + i, attributes: {} })) } });
    const paths = [new URL(phoneSub.endpoint).pathname, new URL(laptopSub.endpoint).pathname];
    const got = await eventually(() => push.received.filter((p) => paths.includes(p.path)), (l) => l.length >= 2, "both pushes", 30_000);
    expect(push.refusals).toEqual([]);
    for (const p of got) {
      expect(p.payload).toEqual({ title: `Flash sale ${run}`, body: expect.stringMatching(/^Grace, 20% off in e2e /), data: { campaignId } });
      expect(p.claims).toMatchObject({ aud: push.origin, sub: "mailto:ops@example.com" });
      expect(p.ttl).toBe(24 * 3600);
    }
    expect(got.map((p) => p.path).sort()).toEqual([...paths].sort());
    const [row] = await eventually(() => sendsOf(campaignId), (r) => r[0]?.status === "sent", "the send record");
    expect(got.map((p) => p.location)).toContain(row!.providerMessageId);
    expect(row).toMatchObject({ channel: "push", userId: u, attempts: 1 });
  }, 60_000);
});
