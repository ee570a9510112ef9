import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditLog } from "@/db/schema";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as segmentItem from "@/app/api/v1/segments/[segmentId]/route";
import * as collection from "./route";
import * as item from "./[campaignId]/route";
import * as status from "./[campaignId]/status/route";

describe.each(engineCases)("campaign REST API on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);
  let segmentId: string;
  const email = (over: Record<string, unknown> = {}) => ({
    name: `Welcome ${run} ${Math.random().toString(36).slice(2, 6)}`,
    segmentId,
    channelType: "email",
    trigger: "ON_ENTER",
    subject: "Hello {{user.attributes.firstName}}",
    template: "<p>Hi {{user.attributes.firstName}}, welcome to {{segment.name}}.</p>",
    ...over,
  });
  const create = (body: unknown) => call(collection.POST, "POST", { body });
  const patch = (id: string, s: string) => call(status.PATCH, "PATCH", { params: { campaignId: id }, body: { status: s } });

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    // This platform has an email provider; push and SMS have none.
    installRuntime({ ...env.rt, campaignDeps: { ...env.rt.campaignDeps, channels: new Set(["email"] as const) } });
    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `campaign target ${run}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    segmentId = seg.body.id;
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("creates a DRAFT campaign and reads it back with delivery stats", async () => {
    const res = await create(email({ policy: { frequencyCap: { maxMessages: 3, windowHours: 24 } } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "DRAFT", version: 1, channelType: "email", trigger: "ON_ENTER", segmentId });
    const got = await call(item.GET, "GET", { params: { campaignId: res.body.id } });
    expect(got.body).toMatchObject({ id: res.body.id, policy: { frequencyCap: { maxMessages: 3 } }, delivery: { total: 0 } });
  });

  it("answers 400 at the right field for bad input", async () => {
    const unknown = await create(email({ segmentId: "00000000-0000-4000-8000-000000000000" }));
    expect(unknown.status).toBe(400);
    expectSeedError(unknown.body, "VALIDATION_ERROR", "segmentId");
    const noSubject = await create(email({ subject: undefined }));
    expectSeedError(noSubject.body, "VALIDATION_ERROR", "subject");
    const badTemplate = await create(email({ template: "Hi {{user.attributes.name" }));
    expect(badTemplate.status).toBe(400);
    expect(badTemplate.body.error.details.field).toBe("template");
    const badVar = await create(email({ template: "Hi {{user.emial}}" }));
    expect(badVar.body.error.details.field).toBe("template");
    const past = await create(email({ trigger: "BATCH", scheduledAt: "2020-01-01T00:00:00Z" }));
    expectSeedError(past.body, "VALIDATION_ERROR", "scheduledAt");
    const badPolicy = await create(email({ policy: { quietHours: { start: "25:00", end: "08:00", mode: "defer" } } }));
    expect(badPolicy.body.error.details.field).toBe("policy.quietHours.start");
  });

  it("walks the lifecycle: edit a draft, activate, refuse edits while active, pause, complete", async () => {
    const c = (await create(email())).body;
    const edited = await call(item.PUT, "PUT", { params: { campaignId: c.id }, body: email({ name: `${c.name} v2` }) });
    expect(edited.body).toMatchObject({ version: 2, name: `${c.name} v2` });
    expect((await patch(c.id, "PAUSED")).status).toBe(409);
    const active = await patch(c.id, "ACTIVE");
    expect(active.body).toMatchObject({ status: "ACTIVE", version: 3 });
    expect((await patch(c.id, "ACTIVE")).body.version).toBe(3); // a retried PATCH is a no-op
    const locked = await call(item.PUT, "PUT", { params: { campaignId: c.id }, body: email() });
    expect(locked.status).toBe(409);
    expectSeedError(locked.body, "CONFLICT", "status");
    expect((await patch(c.id, "PAUSED")).body.status).toBe("PAUSED");
    expect((await call(item.PUT, "PUT", { params: { campaignId: c.id }, body: email({ name: `${c.name} v3` }) })).status).toBe(200);
    expect((await patch(c.id, "COMPLETED")).body.status).toBe("COMPLETED");
    const final = await patch(c.id, "ACTIVE");
    expect(final.status).toBe(409);
    expect(final.body.error.message).toContain("final");
    expect((await call(item.DELETE, "DELETE", { params: { campaignId: c.id } })).status).toBe(409);
    const actions = (await env.db.db.select().from(auditLog).where(eq(auditLog.entityId, c.id))).map((r) => r.action);
    expect(actions).toEqual([
      "campaign.create",
      "campaign.update",
      "campaign.status.active",
      "campaign.status.paused",
      "campaign.update",
      "campaign.status.completed",
    ]);
  });

  it("refuses activation without a provider for the channel, or on a deleted segment (409)", async () => {
    const sms = (await create(email({ channelType: "sms", subject: undefined, template: "Hi {{user.phone}}" }))).body;
    const refused = await patch(sms.id, "ACTIVE");
    expect(refused.status).toBe(409);
    expectSeedError(refused.body, "CONFLICT", "channelType");

    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `doomed ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 5 }] },
    });
    const c = (await create(email({ segmentId: seg.body.id }))).body;
    expect((await call(segmentItem.DELETE, "DELETE", { params: { segmentId: seg.body.id } })).status).toBe(204);
    const onDeleted = await patch(c.id, "ACTIVE");
    expect(onDeleted.status).toBe(409);
    expectSeedError(onDeleted.body, "CONFLICT", "segmentId");
  });

  it("lists with filters, deletes drafts, and answers 404 and 401", async () => {
    const push = (await create(email({ channelType: "push", subject: undefined, template: "{{campaign.name}}" }))).body;
    const byChannel = await call(collection.GET, "GET", { query: { channelType: "push", segmentId } });
    expect(byChannel.body.data.map((c: { id: string }) => c.id)).toContain(push.id);
    expect(byChannel.body.data.every((c: { channelType: string }) => c.channelType === "push")).toBe(true);
    expect((await call(collection.GET, "GET", { query: { status: "BOGUS" } })).status).toBe(400);
    expect((await call(item.DELETE, "DELETE", { params: { campaignId: push.id } })).status).toBe(204);
    expect((await call(item.GET, "GET", { params: { campaignId: push.id } })).status).toBe(404);
    expect((await call(item.GET, "GET", { params: { campaignId: "nope" } })).status).toBe(404);
    expect((await call(collection.GET, "GET", { key: null })).status).toBe(401);
  });
});
