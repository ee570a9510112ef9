import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "@/lib/webhooks/webhook";
import { api, openBrowser, shot, signIn, startApp, type App, type BrowserSession } from "./support";

/** The webhooks page and the API reference in the browser, against the production build. */
describe("webhooks and the API reference in the browser", () => {
  let app: App;
  let s: BrowserSession;
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingHttpHeaders; body: string; at: Date }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({ headers: req.headers, body, at: new Date() });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // E2E_NEXT_DIST_DIR: a developer's own build directory, when several build on one machine.
    app = await startApp(process.env.E2E_NEXT_DIST_DIR ? { env: { NEXT_DIST_DIR: process.env.E2E_NEXT_DIST_DIR } } : {});
    s = await openBrowser();
    await signIn(s.page, app.baseUrl);
  });
  afterAll(async () => {
    await s?.browser.close();
    await app?.stop();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  it("creates a webhook, shows its secret once, and lists the signed delivery", async () => {
    const segment = await api<{ id: string }>(app, "POST", "/api/v1/segments", {
      name: "Clickers",
      rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }],
    });
    await s.page.goto(`${app.baseUrl}/webhooks`);
    await s.page.getByRole("heading", { name: "Webhooks" }).waitFor();
    await s.page.getByText("No webhooks yet").waitFor();
    await s.page.getByLabel("URL").fill(receiverUrl);
    await s.page.getByLabel("Segment").selectOption({ label: "Clickers" });
    await s.page.getByRole("button", { name: "Create webhook" }).click();
    const secret = (await s.page.getByTestId("webhook-secret").textContent())?.trim() ?? "";
    expect(secret).toMatch(/^whsec_/);
    await s.page.getByText(receiverUrl).waitFor();

    await api(app, "POST", "/api/v1/events/single", { userId: "e2e-clicker", eventType: "clicks", timestamp: Date.now(), attributes: {} });
    await expect.poll(() => received.length, { timeout: 30_000 }).toBe(1);
    const [hit] = received;
    expect(JSON.parse(hit!.body)).toMatchObject({ type: "segment.entered", data: { userId: "e2e-clicker", segmentId: segment.id, segmentName: "Clickers" } });
    expect(verifySignature(secret, hit!.body, hit!.headers["x-am-signature"] as string, hit!.at)).toEqual({ ok: true });

    await s.page.getByRole("button", { name: "Done" }).click();
    await s.page.getByRole("button", { name: "Deliveries" }).click();
    const row = s.page.getByRole("row").filter({ hasText: "e2e-clicker" });
    await row.getByText("delivered").waitFor({ timeout: 20_000 });
    await row.getByText(String(hit!.headers["x-am-delivery-id"])).waitFor();
    await shot(s.page, "webhooks");

    await s.page.getByRole("button", { name: "Disable" }).click();
    await s.page.getByText("disabled by user:").waitFor();
  });

  it("renders the API reference and tries an operation with the session", async () => {
    await s.page.goto(`${app.baseUrl}/api-docs`);
    await s.page.getByRole("heading", { name: "API reference" }).waitFor();
    await s.page.getByRole("heading", { name: "Segment-spec ingestion" }).waitFor();
    await s.page.getByLabel("Filter operations").fill("webhook subscriptions");
    const op = s.page.locator("details").filter({ hasText: "/api/v1/webhooks" }).first();
    await op.locator(":scope > summary").click();
    await op.getByRole("button", { name: "Send GET" }).click();
    await op.getByText(receiverUrl).waitFor();
    await expect.poll(async () => (await op.locator("pre").textContent()) ?? "").toContain('"disabledReason"');
    await shot(s.page, "api-docs");
  });
});
