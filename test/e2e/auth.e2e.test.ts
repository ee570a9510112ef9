import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, createUser, openBrowser, shot, signIn, startApp, type App, type BrowserSession } from "./support";

describe("sign-in, roles and administration in the browser", () => {
  let app: App;
  let s: BrowserSession;

  beforeAll(async () => {
    app = await startApp();
    s = await openBrowser();
  });
  afterAll(async () => {
    await s?.browser.close();
    await app?.stop();
  });

  it("sends a signed-out visitor to the sign-in page and refuses a wrong password", async () => {
    await s.page.goto(`${app.baseUrl}/segments`);
    await s.page.waitForURL(/\/login/);
    await s.page.getByLabel("Email").fill(ADMIN.email);
    await s.page.getByLabel("Password").fill("not-the-password");
    await s.page.getByRole("button", { name: "Sign in" }).click();
    await s.page.getByText("Sign-in failed. Check your email and password.").waitFor();
    expect(new URL(s.page.url()).pathname).toBe("/login");
    await shot(s.page, "login-failed");
  });

  it("signs the first admin in, who invites a viewer and creates an API key", async () => {
    await signIn(s.page, app.baseUrl);
    await s.page.goto(`${app.baseUrl}/admin`);
    await s.page.getByRole("heading", { name: "Admin" }).waitFor();
    await s.page.getByLabel("Email", { exact: true }).fill("viewer@example.com");
    await s.page.getByLabel("Name", { exact: true }).fill("Vic Viewer");
    await s.page.getByLabel("Role", { exact: true }).selectOption("viewer");
    await s.page.getByRole("button", { name: "Invite" }).click();
    const temp = (await s.page.getByTestId("temporary-password").textContent())?.trim() ?? "";
    expect(temp.length).toBeGreaterThanOrEqual(16);
    await s.page.getByRole("row").filter({ hasText: "Vic Viewer" }).waitFor();

    await s.page.getByLabel("Key name").fill("web shop");
    await s.page.getByRole("button", { name: "Create key" }).click();
    const key = (await s.page.getByTestId("new-api-key").textContent())?.trim() ?? "";
    expect(key).toMatch(/^am_/);
    // The key works for ingestion (its scope) and nothing else.
    const ok = await fetch(`${app.baseUrl}/api/v1/events/single`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ userId: "u-e2e", eventType: "clicks", timestamp: Date.now(), attributes: {} }),
    });
    expect(ok.status).toBe(202);
    expect((await fetch(`${app.baseUrl}/api/v1/segments`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);
    await shot(s.page, "admin");

    await s.page.goto(`${app.baseUrl}/audit`);
    await s.page.getByRole("heading", { name: "Audit log" }).waitFor();
    await s.page.getByText("api_key.create").first().waitFor();
    await s.page.getByText("user.invite").first().waitFor();
    await shot(s.page, "audit");
  });

  it("lets a viewer read but not edit or administer", async () => {
    const viewer = await createUser(app, { email: "reader@example.com", role: "viewer" });
    const v = await openBrowser();
    try {
      await signIn(v.page, app.baseUrl, viewer.email, viewer.password);
      await v.page.goto(`${app.baseUrl}/segments`);
      await v.page.getByRole("heading", { name: "Segments" }).waitFor();
      await expect.poll(() => v.page.getByRole("link", { name: "Admin" }).count()).toBe(0);
      // The server refuses a viewer's write even when sent from the page itself.
      const status = await v.page.evaluate(async () => {
        const res = await fetch("/api/v1/segments", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "nope", type: "INDEPENDENT", rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] }),
        });
        return res.status;
      });
      expect(status).toBe(403);
      await v.page.goto(`${app.baseUrl}/admin`);
      await v.page.waitForURL(/\/forbidden/);
      await v.page.getByRole("heading", { name: /do not have access/ }).waitFor();
      await shot(v.page, "viewer-forbidden");
    } finally {
      await v.browser.close();
    }
  });

  it("fits a tablet: the navigation moves above the page", async () => {
    const t = await openBrowser({ width: 820, height: 1180 });
    try {
      await signIn(t.page, app.baseUrl);
      await t.page.goto(`${app.baseUrl}/admin`);
      await t.page.getByRole("heading", { name: "Admin" }).waitFor();
      const overflow = await t.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(t.page, "admin-tablet");
    } finally {
      await t.browser.close();
    }
  });
});
