/**
 * CSV exports: GET /api/v1/segments/{id}/members.csv and /api/v1/campaigns/{id}/sends.csv over
 * real HTTP (typed client), more rows than a page, tricky values; and the stream pulls one page
 * at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { campaignSends } from "@/db/schema";
import { ApiError, createClient, type Client } from "@/lib/client";
import type { MembershipChange, MembershipStore } from "@/lib/ports/memberships";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { startApiServer, type ApiServer } from "@/test/support/api-server";
import { ADMIN_KEY, engineCases, openTestRuntime } from "@/test/support/engines";
import { EXPORT_PAGE_SIZE, exportSegmentMembers } from "./exports";

/** RFC 4180 parser for the assertions (quoted fields, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) throw new Error("the CSV does not end with CRLF");
  return rows;
}

const TRICKY = ['comma,user', 'quote"user', "line\nbreak", "=HYPERLINK(1)", "-minus", "ünïcödé ✓"];

describe.each(engineCases)("CSV exports on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  let server: ApiServer;
  let api: Client;
  const run = Math.random().toString(36).slice(2, 8);
  const members = 2 * EXPORT_PAGE_SIZE + 345;
  let segmentId: string;
  let userIds: string[];

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
    server = await startApiServer();
    api = createClient({ baseUrl: server.url, apiKey: ADMIN_KEY, validate: true });
    segmentId = (await api.segments.create({ body: { name: `export ${run}`, rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] } })).id;
    userIds = [...TRICKY, ...Array.from({ length: members - TRICKY.length }, (_, i) => `user-${String(i).padStart(5, "0")}`)];
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    const changes: MembershipChange[] = userIds.map((userId, i) => ({ userId, segmentId, kind: "enter", at: at + i, cause: "event", version: 1 }));
    for (let i = 0; i < changes.length; i += 500) await env.rt.memberships.apply(changes.slice(i, i + 500));
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    uninstallRuntime();
    await env?.close();
  });

  it("streams every member of a segment as CSV, escaped, over more than one page", async () => {
    const res = await api.segments.membersCsv({ params: { segmentId } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="segment-${segmentId}-members.csv"`);
    // Streamed: no length known up front.
    expect(res.headers.get("content-length")).toBeNull();
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const rows = parseCsv(await res.text());
    expect(rows[0]).toEqual(["user_id", "entered_at"]);
    expect(rows).toHaveLength(members + 1);
    const ids = rows.slice(1).map((r) => r[0]!);
    // Text that a spreadsheet would evaluate gets a leading quote; the rest round-trips.
    const expected = userIds.map((u) => (/^[=+\-@]/.test(u) ? `'${u}` : u));
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(ids).toContain("line\nbreak");
    expect(ids).toContain('quote"user');
    expect(ids).toContain("'=HYPERLINK(1)");
    expect(rows.slice(1).filter((r) => r.length !== 2 || !/^\d{4}-\d\d-\d\dT/.test(r[1]!))).toEqual([]);
  });

  it("pulls one page per read: nothing is read ahead of the consumer", async () => {
    let reads = 0;
    const counting: Pick<MembershipStore, "members"> = {
      members: (id, page) => {
        reads++;
        return env.rt.memberships.members(id, page);
      },
    };
    const out = await exportSegmentMembers({ segments: env.rt.segments, memberships: counting }, segmentId);
    expect(reads).toBe(1); // the first page, before answering (a missing segment is a 404)
    const reader = out.stream.getReader();
    const decoder = new TextDecoder();
    const header = await reader.read();
    expect(decoder.decode(header.value)).toBe("user_id,entered_at\r\n");
    expect(reads).toBe(1);
    const firstPage = await reader.read();
    expect(decoder.decode(firstPage.value).split("\r\n").filter(Boolean)).toHaveLength(EXPORT_PAGE_SIZE);
    expect(reads).toBe(2);
    let rest = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value).split("\r\n").filter(Boolean).length;
    }
    expect(rest).toBe(members - EXPORT_PAGE_SIZE);
    expect(reads).toBe(3);
  });

  it("streams a campaign's sends, pages keyed on (created_at, id) even when times tie", async () => {
    const campaign = await api.campaigns.create({ body: { name: `export ${run}`, segmentId, channelType: "sms", trigger: "ON_ENTER", template: "Hi" } });
    const same = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const total = EXPORT_PAGE_SIZE + 700;
    const rows = Array.from({ length: total }, (_, i) => ({
      idempotencyKey: `export:${run}:${i}`,
      campaignId: campaign.id,
      userId: userIds[i % userIds.length]!,
      channel: "sms" as const,
      status: i % 3 === 0 ? ("skipped" as const) : ("sent" as const),
      reason: i % 3 === 0 ? 'quiet hours, "deferred"\nthen skipped' : null,
      attempts: 1,
      // Half share one millisecond (ties across a page boundary); half take the database's
      // now() with microseconds, which a millisecond cursor would repeat or skip.
      ...(i < total / 2 ? { createdAt: same, updatedAt: same } : {}),
    }));
    for (let i = 0; i < rows.length; i += 400) await env.db.db.insert(campaignSends).values(rows.slice(i, i + 400));

    const res = await api.campaigns.sendsCsv({ params: { campaignId: campaign.id } });
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="campaign-${campaign.id}-sends.csv"`);
    const csv = parseCsv(await res.text());
    expect(csv[0]).toEqual(["send_id", "user_id", "channel", "status", "reason", "attempts", "transition_id", "run_id", "provider_message_id", "created_at", "sent_at"]);
    expect(csv).toHaveLength(total + 1);
    const sendIds = csv.slice(1).map((r) => Number(r[0]));
    expect(new Set(sendIds).size).toBe(total);
    const skipped = csv.slice(1).filter((r) => r[3] === "skipped");
    expect(skipped).toHaveLength(Math.ceil(total / 3));
    expect(skipped[0]![4]).toBe('quiet hours, "deferred"\nthen skipped');
  });

  it("answers 404 in the error format for an unknown segment or campaign", async () => {
    const missing = "6f1c3c9e-7f43-4c55-9d58-5b0a2f3d1e77";
    const seg = await api.segments.membersCsv({ params: { segmentId: missing } }).catch((e: unknown) => e);
    expect(seg).toBeInstanceOf(ApiError);
    expect((seg as ApiError).status).toBe(404);
    const camp = await api.campaigns.sendsCsv({ params: { campaignId: missing } }).catch((e: unknown) => e);
    expect((camp as ApiError).code).toBe("NOT_FOUND");
  });
});
