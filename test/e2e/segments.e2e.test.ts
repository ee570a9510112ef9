import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { api, createUser, openBrowser, shot, signIn, startApp, type App, type BrowserSession } from "./support";

/**
 * A keyboard drag with dnd-kit: each step waits for the screen-reader announcement it causes
 * (which also checks the announcements), so no key lands before dnd-kit has measured.
 */
async function keyboardDrag(page: Page, handle: Locator, steps: { key: string; announces: RegExp }[]) {
  await handle.focus();
  for (const { key, announces } of steps) {
    await page.keyboard.press(key);
    await page.getByText(announces).first().waitFor({ state: "attached" });
  }
}

/** A real pointer drag: press on `from`, move past dnd-kit's activation distance, release over `to`. */
async function drag(page: Page, from: Locator, to: Locator, at: "center" | "top" = "center") {
  await from.scrollIntoViewIfNeeded();
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  const x0 = a.x + Math.min(a.width / 2, 24);
  const y0 = a.y + a.height / 2;
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  await page.mouse.move(x0 + 12, y0 + 4, { steps: 4 });
  await page.mouse.move(b.x + b.width / 2, at === "top" ? b.y + 24 : b.y + b.height / 2, { steps: 15 });
  await page.mouse.up();
}

const ruleCards = (page: Page) => page.getByRole("group", { name: /^Rule \d+$/ });

describe("segments in the browser: build by drag and drop, watch them fill live", () => {
  let app: App;
  let s: BrowserSession;
  let page: Page;
  let cartId = "";
  let buyersId = "";
  const navigations: string[] = [];

  const send = (events: { userId: string; eventType: string; attributes?: Record<string, unknown> }[]) =>
    api(app, "POST", "/api/v1/events", { events: events.map((e) => ({ attributes: {}, ...e, timestamp: Date.now() - 1000 })) });
  const cartUser = (u: string) => [0, 1, 2].map(() => ({ userId: u, eventType: "addToCart" })).concat([{ userId: u, eventType: "clicks" }]);

  beforeAll(async () => {
    // E2E_NEXT_DIST_DIR lets a developer build into a directory of their own while others run theirs.
    app = await startApp(process.env.E2E_NEXT_DIST_DIR ? { env: { NEXT_DIST_DIR: process.env.E2E_NEXT_DIST_DIR } } : {});
    s = await openBrowser();
    page = s.page;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
    await signIn(page, app.baseUrl);
  });
  afterAll(async () => {
    await s?.browser.close();
    await app?.stop();
  });

  it("shows an empty list with a way to start", async () => {
    await page.goto(`${app.baseUrl}/segments`);
    await page.getByText("No segments yet").waitFor();
    await shot(page, "segments-list-empty");
    await page.getByRole("link", { name: "Build your first segment" }).click();
    await page.waitForURL(/\/segments\/new$/);
  });

  it("builds an independent segment from rule blocks: pointer drag, keyboard drag and inline edits", async () => {
    await page.getByRole("heading", { name: "New segment" }).waitFor();
    await page.getByLabel("Name").fill("Cart adders");
    await expect.poll(() => ruleCards(page).count()).toBe(1); // a starter rule: Add to cart

    // Pointer: drag the Clicks block into the rules.
    await drag(page, page.getByLabel(/^Clicks rule block/), page.getByRole("region", { name: /^Rules — / }), "center");
    await expect.poll(() => ruleCards(page).count()).toBe(2);
    const events = async () => {
      const out: string[] = [];
      for (let i = 1; i <= (await ruleCards(page).count()); i++) out.push(await page.getByLabel(`Rule ${i} event`).inputValue());
      return out;
    };
    expect((await events()).sort()).toEqual(["addToCart", "clicks"]);

    if ((await events())[0] === "clicks") await page.getByRole("button", { name: "Move rule 1 down" }).click();
    await expect.poll(events).toEqual(["addToCart", "clicks"]);

    // Keyboard: pick up the Orders block with Space, move it over the rules, drop it.
    await keyboardDrag(page, page.getByLabel(/^Orders rule block/), [
      { key: "Space", announces: /^Picked up Orders block/ },
      { key: "ArrowRight", announces: /^Orders block is over/ },
      { key: "Space", announces: /^Dropped Orders block/ },
    ]);
    await expect.poll(() => ruleCards(page).count()).toBe(3);
    const orders = async () => {
      for (let i = 1; i <= 3; i++) if ((await page.getByLabel(`Rule ${i} event`).inputValue()) === "orders") return i;
      return 0;
    };
    expect(await orders()).toBeGreaterThan(0);

    // Keyboard reorder with the drag handle: move the orders rule to the end, then remove it.
    while ((await orders()) < 3) {
      const before = await orders();
      await page.getByRole("button", { name: `Move rule ${before} down` }).click();
      await expect.poll(orders).toBe(before + 1);
    }
    await keyboardDrag(page, page.getByRole("button", { name: "Move rule 3", exact: true }), [
      // Picked up where it is: dnd-kit announces it as over its own position at once.
      { key: "Space", announces: /^(Picked up rule 3|rule 3 is over the position of rule 3)/ },
      { key: "ArrowUp", announces: /^rule 3 is over the position of rule 2/ },
      { key: "Space", announces: /^Dropped rule 3 at the position of rule 2/ },
    ]);
    await expect.poll(orders).toBe(2);
    await page.getByRole("button", { name: "Remove rule 2" }).click();
    await expect.poll(() => ruleCards(page).count()).toBe(2);

    // Validation as you type: a 30-hour window is refused at its field.
    await page.getByLabel("Rule 2 window unit").selectOption("hours");
    await page.getByLabel("Rule 2 window length").fill("30");
    await page.getByText("must be at most 1440 minutes (24 hours)").waitFor();
    await page.getByLabel("Rule 2 window length").fill("2");
    await expect.poll(() => page.getByText("must be at most 1440 minutes (24 hours)").count()).toBe(0);
    await page.getByLabel("Rule 1 value").fill("3");

    // The engine's estimate (nobody has sent events yet).
    await expect.poll(async () => (await page.getByTestId("estimate").textContent().catch(() => ""))?.trim(), { timeout: 15_000 }).toBe("≈ 0");
    await shot(page, "segments-builder-independent");

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/[0-9a-f-]{36}$/);
    cartId = page.url().split("/").pop()!;
    await page.getByRole("heading", { name: "Cart adders" }).waitFor();
    const saved = await api<{ rules: unknown[] }>(app, "GET", `/api/v1/segments/${cartId}`);
    expect(saved.rules).toEqual([
      { eventType: "addToCart", attribute: "count", field: null, operator: "GTE", value: 3, windowMinutes: 60 },
      { eventType: "clicks", attribute: "count", field: null, operator: "GTE", value: 1, windowMinutes: 120 },
    ]);
  });

  it("updates the member count live on the detail page and the list, without a reload", async () => {
    await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId("live-member-count").textContent()).toBe("0");
    const navigated = navigations.length;

    await send(["u-1", "u-2", "u-3"].flatMap(cartUser));
    await expect.poll(() => page.getByTestId("live-member-count").textContent(), { timeout: 20_000 }).toBe("3");
    await page.getByRole("list", { name: "Recent entries and exits" }).getByText("u-2").waitFor();
    // Charts and the member list follow.
    await page.getByRole("table", { name: "Members" }).getByRole("link", { name: "u-3" }).waitFor({ timeout: 15_000 });
    expect(navigations.length).toBe(navigated);
    await page.getByLabel("Search members by user id").fill("u-2");
    await expect.poll(() => page.getByRole("table", { name: "Members" }).getByRole("link").allTextContents()).toEqual(["u-2"]);
    await page.getByLabel("Search members by user id").fill("");
    await page.waitForTimeout(1_000); // let the charts settle for the screenshot
    await shot(page, "segments-detail");

    await page.getByRole("link", { name: "Segments", exact: true }).click();
    await page.waitForURL(/\/segments$/);
    const row = page.getByRole("row").filter({ hasText: "Cart adders" });
    await expect.poll(() => row.getByTestId("member-count").textContent(), { timeout: 15_000 }).toBe("3");
    const listed = navigations.length;
    await send(["u-4", "u-5"].flatMap(cartUser));
    await expect.poll(() => row.getByTestId("member-count").textContent(), { timeout: 20_000 }).toBe("5");
    expect(navigations.length).toBe(listed);
  });

  it("builds a derived segment by dragging chips into AND / OR / NOT groups, text and groups in sync", async () => {
    buyersId = (await api<{ id: string }>(app, "POST", "/api/v1/segments", {
      name: "Buyers",
      rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 1440 }],
    })).id;
    await send([{ userId: "u-1", eventType: "orders", attributes: { value: 30 } }]);

    await page.goto(`${app.baseUrl}/segments/new`);
    await page.getByLabel("Name").fill("Cart abandoners");
    await page.getByText("Combine segments", { exact: true }).click();
    const top = page.getByRole("region", { name: "Top group" });
    await top.waitFor();

    await drag(page, page.getByLabel(/^Segment Cart adders/), top, "top");
    await top.getByRole("button", { name: "Move Cart adders to another group" }).waitFor();
    await top.getByRole("button", { name: "+ OR group" }).click();
    const group = page.getByRole("region", { name: "Group 1" });
    await drag(page, page.getByLabel(/^Segment Buyers/), group);
    await group.getByRole("button", { name: "Move Buyers to another group" }).waitFor();
    await group.getByLabel("NOT", { exact: true }).first().check();
    const text = page.getByLabel("Expression");
    await expect.poll(() => text.inputValue()).toBe(`${cartId} AND NOT ${buyersId}`);
    await page.getByText("Reads as: “Cart adders” AND NOT “Buyers”").waitFor();

    // The text is editable: an unknown id is flagged, fixing it brings the groups back in sync.
    await text.fill(`${cartId} AND NOT 00000000-0000-4000-8000-000000000000`);
    await page.getByText(/unknown segment id\(s\): 00000000-0000-4000-8000-000000000000/).first().waitFor();
    await page.getByText("unknown id", { exact: true }).waitFor();
    await text.fill(`${cartId} AND NOT ${buyersId}`);
    await page.getByText("Reads as: “Cart adders” AND NOT “Buyers”").waitFor();
    await expect.poll(async () => (await page.getByTestId("estimate").textContent().catch(() => ""))?.trim(), { timeout: 15_000 }).toBe("≈ 4");
    await shot(page, "segments-builder-derived");

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/[0-9a-f-]{36}$/);
    await page.getByRole("heading", { name: "Cart abandoners" }).waitFor();
    await expect.poll(() => page.getByTestId("live-member-count").textContent(), { timeout: 20_000 }).toBe("4");
  });

  it("refuses to delete a segment others use, naming them; deactivates it instead", async () => {
    await page.goto(`${app.baseUrl}/segments/${cartId}/edit`);
    await page.getByRole("button", { name: "Delete segment" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    const blocked = page.getByRole("alert").filter({ hasText: "cannot be deleted" });
    await blocked.getByRole("link", { name: "Cart abandoners" }).waitFor();
    await shot(page, "segments-delete-blocked");
    await page.getByRole("button", { name: "Deactivate" }).click();
    await page.getByRole("button", { name: "Activate" }).waitFor();
    expect((await api<{ active: boolean }>(app, "GET", `/api/v1/segments/${cartId}`)).active).toBe(false);
    await page.getByRole("button", { name: "Activate" }).click();
    await page.getByRole("button", { name: "Deactivate" }).waitFor();
  });

  it("lets a viewer watch segments live but not change them", async () => {
    const viewer = await createUser(app, { email: "segment-viewer@example.com", role: "viewer" });
    const ctx = await s.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    try {
      const vp = await ctx.newPage();
      await signIn(vp, app.baseUrl, viewer.email, viewer.password);
      await vp.goto(`${app.baseUrl}/segments`);
      await vp.getByRole("row").filter({ hasText: "Cart abandoners" }).waitFor();
      expect(await vp.getByRole("link", { name: "New segment" }).count()).toBe(0);
      await vp.goto(`${app.baseUrl}/segments/${cartId}`);
      await vp.getByRole("status").filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });
      expect(await vp.getByRole("link", { name: "Edit segment" }).count()).toBe(0);
      await vp.goto(`${app.baseUrl}/segments/${cartId}/edit`);
      await vp.waitForURL(/\/forbidden/);
      const write = await vp.request.patch(`${app.baseUrl}/api/v1/segments/${cartId}/status`, {
        data: { active: false },
        headers: { origin: app.baseUrl },
      });
      expect(write.status()).toBe(403);
    } finally {
      await ctx.close();
    }
  });

  it("lays out the list at 1280 px, and the list, the builder and the detail at tablet width", async () => {
    await page.goto(`${app.baseUrl}/segments`);
    await page.getByRole("row").filter({ hasText: "Cart abandoners" }).waitFor();
    await page.waitForTimeout(1_000); // sparklines
    await shot(page, "segments-list");
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.waitForTimeout(500);
    await shot(page, "segments-list-tablet");
    await page.goto(`${app.baseUrl}/segments/${cartId}/edit`);
    await page.getByRole("heading", { name: "Edit “Cart adders”" }).waitFor();
    await shot(page, "segments-builder-tablet");
    await page.goto(`${app.baseUrl}/segments/${cartId}`);
    await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });
    await shot(page, "segments-detail-tablet");
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
