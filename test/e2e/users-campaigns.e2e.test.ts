/**
 * User lookup, campaigns and the dashboard in the browser, against the production build on the
 * embedded engines, with a real SMTP server receiving the campaign emails.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createUser, openBrowser, shot, signIn, startApp, type App, type BrowserSession } from "./support";

interface Overview {
  ingestion: { eventsInWindow: number };
  sends: { byStatus: { sent: number } };
  segments: { largest: { name: string; members: number }[] };
}

/** A one-hour quiet window starting two hours from now in `timeZone`. */
function quietLater(timeZone: string) {
  const hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", hourCycle: "h23" }).format(new Date()));
  const hh = (h: number) => `${String(h % 24).padStart(2, "0")}:00`;
  return { start: hh(hour + 2), end: hh(hour + 3), mode: "defer" as const };
}

const rule = (eventType: string, value: number) => ({ eventType, attribute: "count", operator: "GTE", value, windowMinutes: 60 });

describe("user lookup, campaigns and the dashboard in the browser", () => {
  let app: App;
  let s: BrowserSession;
  let smtp: SMTPServer;
  const mail: ParsedMail[] = [];
  const seg: Record<string, string> = {};

  const events = (userId: string, eventType: string, n: number, attributes: Record<string, unknown> = {}) =>
    api(app, "POST", "/api/v1/events", {
      events: Array.from({ length: n }, (_, i) => ({ userId, eventType, timestamp: Date.now() - i * 1000, attributes })),
    });
  const profile = (userId: string, firstName: string) =>
    api(app, "PUT", `/api/v1/users/${userId}/profile`, { email: `${userId}@example.com`, timezone: "Europe/Berlin", attributes: { firstName } });

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
    app = await startApp({
      env: {
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        SMTP_FROM: "Audience Manager <noreply@example.com>",
        // Lets a developer build into a directory of their own while others run e2e tests too.
        ...(process.env.E2E_NEXT_DIST_DIR ? { NEXT_DIST_DIR: process.env.E2E_NEXT_DIST_DIR } : {}),
      },
    });
    s = await openBrowser();
    await signIn(s.page, app.baseUrl);
    for (const [name, body] of [
      ["Cart adders", { rules: [rule("addToCart", 2)] }],
      ["Buyers", { rules: [rule("orders", 1)] }],
      ["Clickers", { rules: [rule("clicks", 1)] }],
    ] as const) {
      seg[name] = (await api<{ id: string }>(app, "POST", "/api/v1/segments", { name, ...body })).id;
    }
    seg["Cart abandoners"] = (
      await api<{ id: string }>(app, "POST", "/api/v1/segments", { name: "Cart abandoners", logicalExpression: `${seg["Cart adders"]} AND NOT ${seg.Buyers}` })
    ).id;
  });
  afterAll(async () => {
    await s?.browser.close();
    await app?.stop();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  it("looks a user up after events arrive over REST and explains their segments, live", async () => {
    await profile("shopper-1", "Ada");
    await events("shopper-1", "addToCart", 3, { sku: "sku-1" });
    const p = s.page;
    await p.goto(`${app.baseUrl}/users`);
    await p.getByRole("heading", { name: "Users" }).waitFor();
    await shot(p, "users-lookup");
    await p.getByLabel("User ID").fill("shopper-1");
    await p.getByRole("button", { name: "Look up" }).click();
    await p.waitForURL(/\/users\/shopper-1$/);

    // Independent segment: the rule's aggregate against its threshold.
    await p.getByRole("button", { name: "Explain Cart adders" }).click();
    const explain = p.getByTestId("explain-view").first();
    await explain.getByText("Definition holds now").waitFor();
    const row = explain.getByRole("row").filter({ hasText: "count of Add to cart" });
    await expect.poll(() => row.getByRole("cell").allInnerTexts()).toEqual(["count of Add to cart in the last 1 h", "3", "≥ 2", "", "holds"]);

    // Derived segment: the expression tree with each node's value.
    await p.getByRole("button", { name: "Explain Cart abandoners" }).click();
    const tree = p.getByRole("group", { name: "Expression tree" });
    await tree.getByText("AND").waitFor();
    await tree.getByText("“Buyers”").waitFor();
    expect(await tree.getByText("NOT").count()).toBe(1);

    await p.getByRole("list", { name: "Recent events" }).getByText("Add to cart").first().waitFor();
    await p.getByRole("list", { name: "Segment entries and exits" }).getByText("Cart abandoners").first().waitFor();
    await p.getByText("Live", { exact: true }).waitFor();

    // An order arrives: the user leaves "Cart abandoners" and enters "Buyers" without a reload.
    await events("shopper-1", "orders", 1, { value: 30 });
    await p.getByRole("link", { name: "Buyers" }).first().waitFor({ timeout: 20_000 });
    await p.getByText("just entered").waitFor();
    await p.getByRole("list", { name: "Segment entries and exits" }).getByText("Left").waitFor({ timeout: 20_000 });
    await p.getByRole("button", { name: "Hide explanation" }).first().waitFor();
    await shot(p, "user-detail");

    const t = await openBrowser({ width: 820, height: 1180 });
    try {
      await signIn(t.page, app.baseUrl);
      await t.page.goto(`${app.baseUrl}/users/shopper-1`);
      await t.page.getByRole("button", { name: "Explain Buyers" }).click();
      await t.page.getByTestId("explain-view").getByText("Definition holds now").waitFor();
      const overflow = await t.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(t.page, "user-detail-tablet");
    } finally {
      await t.browser.close();
    }
  });

  it("creates an email campaign with a live preview, activates it, and shows its sends", async () => {
    const p = s.page;
    await p.goto(`${app.baseUrl}/campaigns`);
    await p.getByText("No campaigns yet").waitFor();
    await p.getByRole("link", { name: "New campaign" }).click();
    await p.waitForURL(/\/campaigns\/new$/);
    await p.getByLabel("Name").fill("Cart reminder");
    await p.getByLabel("Segment").selectOption({ label: "Cart adders" });
    await p.getByLabel("Channel").selectOption("email");
    await p.getByLabel("Trigger").selectOption("ON_ENTER");
    await p.getByLabel("Subject").fill("{{user.attributes.firstName}}, your cart misses you");
    await p.getByLabel("Template (HTML)").fill("<p>Hi {{user.emial}}</p>");
    // A variable that can never resolve is flagged as you type, at the template field.
    await expect.poll(() => p.getByLabel("Template (HTML)").getAttribute("aria-invalid")).toBe("true");
    await p.getByRole("alert").filter({ hasText: "user.emial" }).waitFor();
    await p.getByLabel("Template (HTML)").fill("<h1>Hi {{user.attributes.firstName}}</h1><p>Your cart in {{segment.name}} is waiting.</p>");
    // The preview is rendered by the server for a member of the segment.
    const preview = p.getByTestId("campaign-preview");
    await preview.getByText("Ada, your cart misses you").waitFor();
    await p.frameLocator('iframe[title="Email preview"]').getByRole("heading", { name: "Hi Ada" }).waitFor();
    await shot(p, "campaign-editor");
    await p.getByRole("button", { name: "Create draft" }).click();
    await p.waitForURL(/\/campaigns\/[0-9a-f-]{36}$/);
    await p.getByRole("button", { name: "Activate" }).click();
    await p.getByRole("button", { name: "Pause" }).waitFor();

    // A new user enters the segment: one email, listed among the sends.
    await profile("shopper-2", "Grace");
    await events("shopper-2", "addToCart", 2);
    await expect.poll(() => mail.filter((m) => JSON.stringify(m.to).includes("shopper-2@example.com")).length, { timeout: 30_000 }).toBe(1);
    expect(mail.find((m) => JSON.stringify(m.to).includes("shopper-2"))!.subject).toBe("Grace, your cart misses you");
    const sends = p.getByRole("table", { name: "Sends" });
    await sends.getByRole("row").filter({ hasText: "shopper-2" }).getByText("sent").waitFor({ timeout: 20_000 });
    await p.getByText("of 1 send").waitFor();
    await shot(p, "campaign-detail");
  });

  it("runs a batch campaign with a progress bar and shows why an activation is refused", async () => {
    const batch = await api<{ id: string }>(app, "POST", "/api/v1/campaigns", {
      name: "Weekly digest",
      segmentId: seg["Cart adders"],
      channelType: "email",
      trigger: "BATCH",
      subject: "Your week, {{user.attributes.firstName}}",
      template: "<p>Here is what happened.</p>",
      // Quiet hours that are certainly not now in the users' zone, so the run sends at once.
      policy: { frequencyCap: { maxMessages: 5, windowHours: 24 }, quietHours: quietLater("Europe/Berlin"), rateLimitPerSecond: 20 },
    });
    const p = s.page;
    await p.goto(`${app.baseUrl}/campaigns/${batch.id}`);
    await p.getByRole("button", { name: "Activate" }).click();
    await p.getByRole("button", { name: "Run now" }).click();
    const bar = p.getByRole("progressbar", { name: /Batch run/ });
    await bar.waitFor();
    await expect.poll(async () => [await bar.getAttribute("aria-valuenow"), await bar.getAttribute("aria-valuemax")], { timeout: 30_000 }).toEqual(["2", "2"]);
    await p.getByText("Completed", { exact: true }).waitFor();
    const batchSends = p.getByRole("table", { name: "Sends" });
    for (const u of ["shopper-1", "shopper-2"]) await batchSends.getByRole("row").filter({ hasText: u }).getByText("sent").waitFor();
    await shot(p, "campaign-batch");

    // No SMS provider is configured: activation is refused with the server's reason.
    const sms = await api<{ id: string }>(app, "POST", "/api/v1/campaigns", {
      name: "Text nudge",
      segmentId: seg.Clickers,
      channelType: "sms",
      trigger: "ON_ENTER",
      template: "Hi {{user.attributes.firstName}}",
    });
    await p.goto(`${app.baseUrl}/campaigns/${sms.id}`);
    await p.getByRole("button", { name: "Activate" }).click();
    await p.getByRole("alert").filter({ hasText: "No sms provider is configured" }).waitFor();
    await p.getByText("Draft", { exact: true }).waitFor();

    await p.goto(`${app.baseUrl}/campaigns`);
    await p.getByRole("link", { name: "Weekly digest" }).waitFor();
    await shot(p, "campaigns-list");
  });

  it("renders the dashboard from real figures", async () => {
    const overview = await api<Overview>(app, "GET", "/api/v1/stats/overview");
    expect(overview.sends.byStatus.sent).toBeGreaterThanOrEqual(3);
    const p = s.page;
    await p.goto(`${app.baseUrl}/`);
    await p.getByRole("heading", { name: "Dashboard" }).waitFor();
    const sent = p.locator("div").filter({ has: p.getByText("Messages sent", { exact: true }) }).last();
    await expect.poll(async () => Number((await sent.locator("p").nth(1).innerText()).replace(/,/g, ""))).toBe(overview.sends.byStatus.sent);
    const largest = p.getByRole("list").filter({ hasText: "Cart adders" }).first();
    await largest.waitFor();
    expect(overview.segments.largest).toContainEqual(expect.objectContaining({ name: "Cart adders", members: 2 }));
    await p.getByText("Median time from ingestion until an event is evaluated", { exact: false }).waitFor();
    await shot(p, "dashboard");

    const t = await openBrowser({ width: 820, height: 1180 });
    try {
      await signIn(t.page, app.baseUrl);
      await t.page.goto(`${app.baseUrl}/`);
      await t.page.getByText("Events ingested", { exact: true }).waitFor();
      const overflow = await t.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(t.page, "dashboard-tablet");
    } finally {
      await t.browser.close();
    }
  });

  it("shows a viewer the same pages without edit controls", async () => {
    const viewer = await createUser(app, { email: "watcher@example.com", role: "viewer" });
    const v = await openBrowser();
    try {
      await signIn(v.page, app.baseUrl, viewer.email, viewer.password);
      await v.page.goto(`${app.baseUrl}/campaigns`);
      await v.page.getByRole("link", { name: "Cart reminder" }).waitFor();
      expect(await v.page.getByRole("link", { name: "New campaign" }).count()).toBe(0);
      await v.page.getByRole("link", { name: "Cart reminder" }).click();
      await v.page.getByText("of 1 send").waitFor();
      expect(await v.page.getByRole("button", { name: "Pause" }).count()).toBe(0);
      await v.page.goto(`${app.baseUrl}/users/shopper-1`);
      await v.page.getByText("shopper-1@example.com").waitFor();
      expect(await v.page.getByRole("button", { name: /Edit profile/ }).count()).toBe(0);
    } finally {
      await v.browser.close();
    }
  });
});
