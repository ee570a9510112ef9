import { describe, expect, it } from "vitest";
import { type z } from "zod";
import { formatPath } from "@/lib/errors";
import {
  batchSendKey,
  campaignStatuses,
  campaignStatusSchema,
  checkSchedule,
  createCampaignSchema,
  listCampaignsQuerySchema,
  sendKey,
  statusTransitionError,
  updateCampaignSchema,
  type CampaignStatus,
} from "./campaign";

const segmentId = "6f1c1a5e-3b2d-4c8e-9a7f-0123456789ab";
const email = {
  name: "Welcome",
  segmentId,
  channelType: "email",
  trigger: "ON_ENTER",
  subject: "Welcome, {{user.attributes.firstName}}",
  template: "<p>Hi {{ user.attributes.firstName }}, you joined {{segment.name}}.</p>",
};
const push = { name: "Nudge", segmentId, channelType: "push", trigger: "ON_EXIT", template: "Come back to {{campaign.name}}" };
const batch = { ...push, name: "Weekly", trigger: "BATCH", channelType: "sms", scheduledAt: "2030-01-31T10:00:00+01:00" };

function issues(input: unknown, schema: z.ZodType = createCampaignSchema) {
  const r = schema.safeParse(input);
  if (r.success) throw new Error("expected failure");
  return r.error.issues.map((i) => ({ field: formatPath(i.path), message: i.message }));
}

function messageAt(input: unknown, field: string): string {
  const found = issues(input);
  const hit = found.find((i) => i.field === field);
  if (!hit) throw new Error(`no issue at ${field}: ${JSON.stringify(found)}`);
  return hit.message;
}

describe("createCampaignSchema", () => {
  it("accepts an email campaign, trims the name and fills defaults", () => {
    expect(createCampaignSchema.parse({ ...email, name: "  Welcome  " })).toEqual({
      name: "Welcome",
      segmentId,
      channelType: "email",
      trigger: "ON_ENTER",
      subject: "Welcome, {{user.attributes.firstName}}",
      template: email.template,
      scheduledAt: null,
      policy: {},
    });
  });

  it("accepts push and SMS campaigns without a subject", () => {
    expect(createCampaignSchema.parse(push)).toMatchObject({ channelType: "push", subject: null });
    expect(createCampaignSchema.parse({ ...push, channelType: "sms", subject: null })).toMatchObject({ channelType: "sms", subject: null });
  });

  it("normalizes a BATCH schedule to UTC and lower-cases the segment id", () => {
    const out = createCampaignSchema.parse({ ...batch, segmentId: segmentId.toUpperCase() });
    expect(out.scheduledAt).toBe("2030-01-31T09:00:00.000Z");
    expect(out.segmentId).toBe(segmentId);
  });

  it("accepts a BATCH campaign with no schedule (run by hand)", () => {
    expect(createCampaignSchema.parse({ ...batch, scheduledAt: undefined }).scheduledAt).toBeNull();
    expect(createCampaignSchema.parse({ ...batch, scheduledAt: null }).scheduledAt).toBeNull();
  });

  it("keeps a validated policy", () => {
    const policy = { rateLimitPerSecond: 50, frequencyCap: { maxMessages: 2, windowHours: 24 }, quietHours: { start: "21:00", end: "09:00", mode: "skip" } };
    expect(createCampaignSchema.parse({ ...email, policy }).policy).toEqual(policy);
  });

  it("keeps the template byte for byte (no trimming)", () => {
    const template = "\n  <p>{{user.email}}</p>\n";
    expect(createCampaignSchema.parse({ ...email, template }).template).toBe(template);
  });

  it.each([
    [{ name: undefined }, "name", "is required"],
    [{ name: "   " }, "name", "must not be empty"],
    [{ name: "x".repeat(201) }, "name", "must be at most 200 characters"],
    [{ name: 5 }, "name", "must be a string"],
    [{ segmentId: "seg-1" }, "segmentId", "must be a UUID"],
    [{ segmentId: undefined }, "segmentId", "is required"],
    [{ channelType: "fax" }, "channelType", "must be one of email, push, sms"],
    [{ channelType: undefined }, "channelType", "is required"],
    [{ trigger: "ON_CHANGE" }, "trigger", "must be one of ON_ENTER, ON_EXIT, BATCH"],
    [{ subject: undefined }, "subject", "is required for an email campaign"],
    [{ subject: null }, "subject", "is required for an email campaign"],
    [{ subject: "  " }, "subject", "must not be empty"],
    [{ subject: "x".repeat(501) }, "subject", "must be at most 500 characters"],
    [{ subject: "Hi\r\nBcc: x@example.org" }, "subject", "must be a single line"],
    [{ subject: "Hi {{user.email" }, "subject", "unclosed '{{' (no matching '}}') at position 3 (line 1, column 4)"],
    [{ subject: "Hi {{user.firstName}}" }, "subject", "unknown variable 'user.firstName'"],
    [{ template: undefined }, "template", "is required"],
    [{ template: "" }, "template", "must not be empty"],
    [{ template: " \n " }, "template", "must not be empty"],
    [{ template: "x".repeat(100_001) }, "template", "must be at most 100000 characters"],
    [{ template: 42 }, "template", "must be a string"],
    [{ template: "<p>\n  Hi {{user.email</p>" }, "template", "unclosed '{{' (no matching '}}') at position 9 (line 2, column 6)"],
    [{ template: "Hi {{}}" }, "template", "empty tag '{{}}' at position 3"],
    [{ template: "Hi {{ first_name }}" }, "template", "unknown variable 'first_name'"],
    [{ template: "Hi {{ first_name }}" }, "template", "at position 3 (line 1, column 4)"],
    [{ template: "Hi {{user.name}}" }, "template", "unknown variable 'user.name': use user.email, user.phone or user.attributes.<key> at position 3"],
    [{ scheduledAt: "2030-01-31T10:00:00Z" }, "scheduledAt", "only a BATCH campaign takes scheduledAt"],
    [{ policy: { quietHours: { start: "10pm", end: "08:00", mode: "defer" } } }, "policy.quietHours.start", "must be a 24-hour time like 22:00 (HH:MM)"],
    [{ policy: { quietHours: { start: "22:00", end: "08:00", mode: "never" } } }, "policy.quietHours.mode", "must be one of defer, skip"],
    [{ policy: { frequencyCap: { maxMessages: 0, windowHours: 24 } } }, "policy.frequencyCap.maxMessages", "must be at least 1"],
    [{ policy: { rateLimitPerSecond: 0.5 } }, "policy.rateLimitPerSecond", "must be at least 1"],
    [{ policy: "fast" }, "policy", "must be an object"],
    [{ status: "ACTIVE" }, "status", "cannot be set here: a campaign starts as DRAFT"],
    [{ status: "DRAFT" }, "status", "cannot be set here"],
    [{ id: "x" }, "", "id"],
  ])("refuses %j at %s", (patch, field, message) => {
    expect(messageAt({ ...email, ...patch }, field)).toContain(message);
  });

  it("refuses a subject on push and SMS campaigns", () => {
    expect(messageAt({ ...push, subject: "Hi" }, "subject")).toBe("only an email campaign takes a subject");
    expect(messageAt({ ...push, channelType: "sms", subject: "Hi" }, "subject")).toBe("only an email campaign takes a subject");
  });

  it.each([
    ["2030-01-31T10:00:00", "no zone"],
    ["2030-01-31", "a date alone"],
    ["2030-02-30T10:00:00Z", "an impossible date"],
    ["2030-01-31T10:00:00+0100", "an offset without a colon"],
    ["next tuesday", "free text"],
    [1893456000000, "epoch milliseconds"],
  ])("refuses scheduledAt %j (%s)", (scheduledAt, _why) => {
    expect(messageAt({ ...batch, scheduledAt }, "scheduledAt")).toBe(
      "must be an ISO-8601 date-time with a time zone, like 2030-01-31T09:00:00Z or 2030-01-31T10:00:00+01:00",
    );
  });

  it("reports every template problem, each at field template", () => {
    const found = issues({ ...email, template: "{{user.nme}} {{segment.id}} {{user.email}}" });
    expect(found).toEqual([
      { field: "template", message: expect.stringContaining("'user.nme'") },
      { field: "template", message: expect.stringContaining("'segment.id'") },
    ]);
  });

  it("caps the number of template issues reported", () => {
    const template = Array.from({ length: 50 }, (_, i) => `{{user.f${i}}}`).join(" ");
    expect(issues({ ...email, template }).filter((i) => i.field === "template")).toHaveLength(20);
  });

  it("reports cross-field problems alongside field problems", () => {
    const found = issues({ ...email, subject: undefined, segmentId: "nope", status: "ACTIVE" });
    expect(found.map((i) => i.field).sort()).toEqual(["segmentId", "status", "subject"]);
  });

  it.each([null, [], "campaign", 42])("refuses a non-object body %j", (body) => {
    expect(issues(body)).toEqual([{ field: "", message: "must be an object" }]);
  });

  it("updateCampaignSchema takes the same full definition", () => {
    expect(updateCampaignSchema.parse(email)).toEqual(createCampaignSchema.parse(email));
    expect(issues({ ...email, status: "PAUSED" }, updateCampaignSchema)[0]?.field).toBe("status");
  });
});

describe("checkSchedule", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");

  it("accepts a future schedule and ignores campaigns without one", () => {
    expect(checkSchedule({ trigger: "BATCH", scheduledAt: "2030-01-01T00:00:00.001Z" }, now)).toBeNull();
    expect(checkSchedule({ trigger: "BATCH", scheduledAt: null }, now)).toBeNull();
    expect(checkSchedule({ trigger: "ON_ENTER", scheduledAt: null }, now)).toBeNull();
  });

  it("refuses a schedule at or before now", () => {
    expect(checkSchedule({ trigger: "BATCH", scheduledAt: "2030-01-01T00:00:00.000Z" }, now)).toEqual({
      field: "scheduledAt",
      reason: "must be in the future (it is 2030-01-01T00:00:00.000Z now)",
    });
    expect(checkSchedule({ trigger: "BATCH", scheduledAt: "2029-12-31T23:00:00.000Z" }, now)?.field).toBe("scheduledAt");
  });

  it("works on the schema's output, whatever offset the client used", () => {
    const input = createCampaignSchema.parse({ ...batch, scheduledAt: "2030-01-01T00:30:00+01:00" }); // 23:30Z the day before
    expect(checkSchedule(input, now)?.field).toBe("scheduledAt");
  });
});

describe("campaignStatusSchema", () => {
  it.each(["ACTIVE", "PAUSED", "COMPLETED"])("accepts %s", (status) => {
    expect(campaignStatusSchema.parse({ status })).toEqual({ status });
  });

  it.each([
    [{ status: "DRAFT" }, "status", "must be one of ACTIVE, PAUSED, COMPLETED"],
    [{ status: "active" }, "status", "must be one of ACTIVE, PAUSED, COMPLETED"],
    [{}, "status", "is required"],
    [{ status: "ACTIVE", reason: "x" }, "", "reason"],
  ])("refuses %j", (body, field, message) => {
    const found = issues(body, campaignStatusSchema);
    expect(found.find((i) => i.field === field)?.message).toContain(message);
  });
});

describe("statusTransitionError", () => {
  const allowed: Array<[CampaignStatus, CampaignStatus]> = [
    ["DRAFT", "ACTIVE"],
    ["ACTIVE", "PAUSED"],
    ["PAUSED", "ACTIVE"],
    ["ACTIVE", "COMPLETED"],
    ["PAUSED", "COMPLETED"],
  ];
  const pairs = campaignStatuses.flatMap((from) => campaignStatuses.map((to) => [from, to] as [CampaignStatus, CampaignStatus]));

  it.each(pairs)("%s → %s", (from, to) => {
    const error = statusTransitionError(from, to);
    if (from === to || allowed.some(([f, t]) => f === from && t === to)) expect(error).toBeNull();
    else expect(error).toEqual(expect.any(String));
  });

  it("explains the refusals", () => {
    expect(statusTransitionError("DRAFT", "PAUSED")).toBe("a DRAFT campaign can only be activated (not PAUSED)");
    expect(statusTransitionError("DRAFT", "COMPLETED")).toBe("a DRAFT campaign can only be activated (not COMPLETED)");
    expect(statusTransitionError("ACTIVE", "DRAFT")).toBe("a campaign cannot go back to DRAFT");
    expect(statusTransitionError("COMPLETED", "ACTIVE")).toBe("a COMPLETED campaign is final");
    expect(statusTransitionError("COMPLETED", "DRAFT")).toBe("a campaign cannot go back to DRAFT");
  });

  it("treats a repeated request as a no-op", () => {
    for (const s of campaignStatuses) expect(statusTransitionError(s, s)).toBeNull();
  });
});

describe("listCampaignsQuerySchema", () => {
  it("defaults paging like the segment list", () => {
    expect(listCampaignsQuerySchema.parse({})).toEqual({ page: 1, pageSize: 20 });
  });

  it("coerces query strings and takes the filters", () => {
    expect(
      listCampaignsQuerySchema.parse({ page: "2", pageSize: "50", status: "PAUSED", segmentId: segmentId.toUpperCase(), channelType: "sms" }),
    ).toEqual({ page: 2, pageSize: 50, status: "PAUSED", segmentId, channelType: "sms" });
  });

  it.each([
    [{ page: "0" }, "page", "must be at least 1"],
    [{ pageSize: "101" }, "pageSize", "must be at most 100"],
    [{ pageSize: "2.5" }, "pageSize", "must be a whole number"],
    [{ status: "RUNNING" }, "status", "must be one of DRAFT, ACTIVE, PAUSED, COMPLETED"],
    [{ segmentId: "abc" }, "segmentId", "must be a UUID"],
    [{ channelType: "fax" }, "channelType", "must be one of email, push, sms"],
  ])("refuses %j", (query, field, message) => {
    const found = issues(query, listCampaignsQuerySchema);
    expect(found.find((i) => i.field === field)?.message).toContain(message);
  });
});

describe("idempotency keys", () => {
  const campaignId = "11111111-2222-4333-8444-555555555555";

  it("are stable strings", () => {
    expect(sendKey({ campaignId, userId: "u1", transitionId: "u1|seg|enter|1700000000000" })).toBe(
      `send:${campaignId}:u1:u1%7Cseg%7Center%7C1700000000000`,
    );
    expect(batchSendKey({ campaignId, runId: "run-7", userId: "u1" })).toBe(`batch:${campaignId}:run-7:u1`);
    expect(sendKey({ campaignId, userId: "u1", transitionId: "t" })).toBe(sendKey({ campaignId, userId: "u1", transitionId: "t" }));
  });

  it("cannot collide when parts contain the separator", () => {
    const a = sendKey({ campaignId, userId: "a:b", transitionId: "c" });
    const b = sendKey({ campaignId, userId: "a", transitionId: "b:c" });
    expect(a).not.toBe(b);
    expect(batchSendKey({ campaignId, runId: "r:1", userId: "u" })).not.toBe(batchSendKey({ campaignId, runId: "r", userId: "1:u" }));
  });

  it("keep triggered and batch sends apart", () => {
    expect(sendKey({ campaignId, userId: "u", transitionId: "r" })).not.toBe(batchSendKey({ campaignId, runId: "r", userId: "u" }));
  });

  it("differ per transition, so re-entering the segment sends again", () => {
    expect(sendKey({ campaignId, userId: "u", transitionId: "u|s|enter|1" })).not.toBe(sendKey({ campaignId, userId: "u", transitionId: "u|s|enter|2" }));
  });

  it("refuse empty parts", () => {
    expect(() => sendKey({ campaignId, userId: "", transitionId: "t" })).toThrow(RangeError);
    expect(() => batchSendKey({ campaignId: "", runId: "r", userId: "u" })).toThrow(RangeError);
  });
});
