/**
 * Erasure and export (NFR20, docs/privacy.md), end to end on every engine: a user with a
 * profile, events, memberships, history, a campaign send, webhook deliveries and processor state
 * is exported, then erased; afterwards nothing of them remains in any table (every table with a
 * user id column, found from db/schema so a new one cannot be forgotten, and a text scan of
 * every table), in the membership store, in the processor's engine or in a checkpoint written
 * after the erasure — while another user is untouched.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { is, sql } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import * as schema from "@/db/schema";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender, OutboundMessage } from "@/lib/ports/messages";
import { userRef } from "@/lib/privacy/crypto";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { TOPICS } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import { eventually } from "@/test/support/wait";
import * as userRoute from "@/app/api/v1/users/[userId]/route";
import * as exportRoute from "@/app/api/v1/users/[userId]/export/route";
import * as profileRoute from "@/app/api/v1/users/[userId]/profile/route";
import * as eventsRoute from "@/app/api/v1/events/route";
import * as segmentsRoute from "@/app/api/v1/segments/route";
import * as campaignsRoute from "@/app/api/v1/campaigns/route";
import * as campaignStatus from "@/app/api/v1/campaigns/[campaignId]/status/route";
import * as rewrapRoute from "@/app/api/v1/admin/privacy/rewrap/route";

/** Records what it is asked to send (the email provider of this test). */
class RecordingSender implements MessageSender {
  sent: OutboundMessage[] = [];
  constructor(readonly channel: ChannelType) {}
  async send(message: OutboundMessage) {
    this.sent.push(message);
    return { providerMessageId: `msg-${this.sent.length}` };
  }
}

/** Every (table, column) of the schema that holds a user id. */
const userIdColumns = (Object.values(schema) as unknown[])
  .filter((t): t is PgTable => is(t, PgTable))
  .map((t) => getTableConfig(t))
  .flatMap((t) => t.columns.filter((c) => c.name === "user_id" || c.name.endsWith("_user_id")).map((c) => ({ table: t.name, column: c.name })));

describe.each(engineCases)("user erasure and export on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const email = new RecordingSender("email");
  const run = Math.random().toString(36).slice(2, 8);
  const gone = `gone-${run}`;
  const kept = `kept-${run}`;
  const goneEmail = `erase-me-${run}@example.com`;
  const gonePhone = `+4915199${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
  const goneToken = `fcm-token-${run}-gone`;
  let segmentId = "";
  let campaignId = "";

  const db = () => env.db.db;
  async function query<T>(q: ReturnType<typeof sql>): Promise<T[]> {
    return ((await db().execute(q)) as unknown as { rows: T[] }).rows;
  }
  const post = (userId: string, eventType: string, attributes: Record<string, unknown> = {}) =>
    call(eventsRoute.POST, "POST", { body: { events: [{ userId, eventType, timestamp: Date.now(), attributes }] } });
  async function checkpoints() {
    const rows = await query<{ group_id: string; partition: number; offset: string; snapshot: Buffer | Uint8Array; updated_at: string | Date }>(
      sql`select group_id, partition, "offset", snapshot, updated_at from processor_checkpoints`,
    );
    return rows.map((r) => ({
      group: r.group_id,
      partition: Number(r.partition),
      offset: Number(r.offset),
      updatedAt: new Date(r.updated_at),
      users: Object.keys((JSON.parse(gunzipSync(Buffer.from(r.snapshot)).toString("utf8")) as { users: Record<string, unknown> }).users),
    }));
  }

  beforeAll(async () => {
    env = await openTestRuntime(engine, {
      workers: true,
      senders: new Map<ChannelType, MessageSender>([["email", email]]),
      dispatcher: { pollMs: 50 },
    });
    installRuntime(env.rt);
    const seg = await call(segmentsRoute.POST, "POST", {
      body: { name: `buyers ${run}`, rules: [{ eventType: "orders", attribute: "count", operator: "GTE", value: 1, windowMinutes: 60 }] },
    });
    expect(seg.status).toBe(201);
    segmentId = seg.body.id;
    await eventually(() => env.rt.processor!.hasDefinition(segmentId, 1), Boolean, "the processor knows the segment");
    const c = await call(campaignsRoute.POST, "POST", {
      body: { name: `welcome ${run}`, segmentId, channelType: "email", trigger: "ON_ENTER", subject: "Hi", template: "Hi {{user.attributes.firstName}}" },
    });
    expect(c.status).toBe(201);
    campaignId = c.body.id;
    expect((await call(campaignStatus.PATCH, "PATCH", { params: { campaignId }, body: { status: "ACTIVE" } })).status).toBe(200);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("refuses calls without an admin credential", async () => {
    expectSeedError((await call(userRoute.DELETE, "DELETE", { params: { userId: gone }, key: null })).body, "UNAUTHORIZED");
    expectSeedError((await call(exportRoute.GET, "GET", { params: { userId: gone }, key: null })).body, "UNAUTHORIZED");
  });

  it("exports everything held about a user, then erases them from every store, leaving others untouched", async () => {
    // A user with everything: profile, events, membership, history, a sent campaign email, window state.
    for (const [u, addr, phone, token] of [
      [gone, goneEmail, gonePhone, goneToken],
      [kept, `kept-${run}@example.com`, "+4915100000001", "fcm-kept"],
    ] as const) {
      const p = await call(profileRoute.PUT, "PUT", {
        params: { userId: u },
        body: { email: addr, phone, deviceTokens: [token], timezone: "Europe/Berlin", attributes: { firstName: `Name-${u}` } },
      });
      expect(p.status).toBe(201);
      expect((await post(u, "orders", { value: 30 })).status).toBe(202);
    }
    await eventually(() => email.sent.map((m) => (m.channel === "email" ? m.to : "")).sort(), (to) => to.length === 2, "both welcome emails");
    await eventually(() => env.rt.events.recent(gone, 0, 10), (e) => e.length === 1, "the archived event");
    expect(await env.rt.memberships.segmentsOf(gone)).toHaveLength(1);

    // What other components hold about the user: a webhook delivery, an unmapped Segment event sample.
    const [sub] = await db()
      .insert(schema.webhookSubscriptions)
      .values({ url: "https://hooks.example/x", secretCiphertext: "plain:x", secretHint: "x", events: ["enter"], enabled: false, createdBy: "test" })
      .returning();
    await db().insert(schema.webhookDeliveries).values({
      subscriptionId: sub!.id,
      transitionId: `${gone}|${segmentId}|enter|1`,
      event: "enter",
      segmentId,
      userId: gone,
      payload: JSON.stringify({ userId: gone, segmentId, event: "enter" }),
      status: "delivered",
    });
    await db()
      .insert(schema.segmentUnmappedEvents)
      .values({ eventName: `Promo ${run}`, count: 1, firstSeenAt: new Date(), lastSeenAt: new Date(), lastUserId: gone, lastProperties: { promo: "x", who: gone } });

    // A checkpoint left by a consumer group that no longer runs.
    const retired = { fields: [], versions: {}, users: { [gone]: { s: [], m: [segmentId], e: 1 }, [`other-${run}`]: { s: [], m: [], e: 1 } } };
    await db().insert(schema.processorCheckpoints).values({ groupId: `retired-${run}`, topic: "user-events", partition: 0, offset: "41", snapshot: gzipSync(JSON.stringify(retired)) });

    // The processor's checkpoint holds the user (a checkpoint is written with a batch, at most
    // every 5 s; the users may be on different partitions).
    const holding = await eventually(
      async () => {
        await post(gone, "clicks");
        await post(kept, "clicks");
        await env.rt.processor!.idle();
        await new Promise((r) => setTimeout(r, 500));
        return (await checkpoints()).find((c) => c.users.includes(gone) && c.group !== `retired-${run}`);
      },
      (c) => c !== undefined,
      "a checkpoint holding the user",
      30_000,
    );
    await env.rt.processor!.idle();
    const goneEvents = await eventually(
      async () => (await env.rt.events.recent(gone, 0, 1000)).length,
      (n) => n >= 2,
      "the user's events archived",
    );

    // Export: everything, decrypted.
    const exported = await call(exportRoute.GET, "GET", { params: { userId: gone } });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-disposition")).toContain("attachment");
    expect(exported.body.events).toHaveLength(goneEvents);
    expect(exported.body).toMatchObject({
      userId: gone,
      profile: { email: goneEmail, phone: gonePhone, deviceTokens: [goneToken], attributes: { firstName: `Name-${gone}` } },
      segments: [{ segmentId, segmentName: `buyers ${run}` }],
      history: [{ segmentId, segmentName: `buyers ${run}`, enterCause: "event", exitedAt: null }],
      events: expect.arrayContaining([expect.objectContaining({ eventType: "orders", attributes: { value: 30 } })]),
      campaignSends: [{ campaignId, campaignName: `welcome ${run}`, channel: "email", status: "sent" }],
      webhookDeliveries: [{ subscriptionId: sub!.id, event: "enter", payload: { userId: gone } }],
    });

    // Erase.
    const erasedAt = new Date();
    const erased = await call(userRoute.DELETE, "DELETE", { params: { userId: gone } });
    expect(erased.status).toBe(200);
    const ref = userRef(env.rt.piiKeys, gone);
    expect(erased.body).toMatchObject({
      userId: gone,
      userRef: ref,
      removed: { profiles: 1, memberships: 1, history: 1, events: goneEvents, sendsAnonymised: 1, webhookDeliveries: 1, unmappedSamples: 1 },
    });
    expect(erased.body.removed.checkpoints).toBeGreaterThanOrEqual(1);

    // The processor forgets the user and checkpoints at once (no new events meanwhile: the only
    // message after the erasure is the erasure itself).
    await eventually(() => env.rt.processor!.engineOf(gone), (e) => e === undefined, "the engine forgets the user");
    await env.rt.processor!.idle();
    const after = await eventually(
      () => checkpoints(),
      (cs) => cs.some((c) => c.group === holding!.group && c.partition === holding!.partition && c.updatedAt >= erasedAt && c.offset > holding!.offset),
      "a checkpoint written after the erasure",
    );
    for (const c of after) expect(c.users).not.toContain(gone);
    // The retired group's checkpoint was scrubbed too, its other users kept.
    expect(after.filter((c) => c.group === `retired-${run}`).map((c) => c.users)).toEqual([[`other-${run}`]]);
    // The partition's other users are all still there.
    expect(after.find((c) => c.group === holding!.group && c.partition === holding!.partition)!.users.sort()).toEqual(holding!.users.filter((x) => x !== gone).sort());

    // Nothing of the user in any table: every user id column the schema has…
    expect(userIdColumns.map((c) => c.table)).toEqual(
      expect.arrayContaining(["user_profiles", "user_segment_memberships", "user_segment_history", "user_events", "campaign_sends", "webhook_deliveries", "segment_unmapped_events"]),
    );
    for (const { table, column } of userIdColumns) {
      const [r] = await query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)} where ${sql.identifier(column)} = ${gone}`);
      expect({ table, column, n: r!.n }).toEqual({ table, column, n: 0 });
    }
    // …and no row of any table whose text mentions the id, the email address, the phone number
    // or the device token (audit entries, outbox, jsonb payloads included).
    const tables = await query<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    expect(tables.length).toBeGreaterThanOrEqual(userIdColumns.length);
    for (const { table_name } of tables) {
      for (const needle of [gone, goneEmail, gonePhone, goneToken]) {
        const [r] = await query<{ n: number }>(
          sql`select count(*)::int as n from ${sql.identifier(table_name)} as r where strpos(r::text, ${needle}) > 0`,
        );
        expect({ table: table_name, needle, n: r!.n }).toEqual({ table: table_name, needle, n: 0 });
      }
    }
    expect(await env.rt.memberships.segmentsOf(gone)).toEqual([]); // the serving store (Aerospike too when configured)
    expect(await env.rt.profiles.get(gone)).toBeNull();

    // The campaign keeps its count: the send is there, anonymised.
    const sends = await query<{ user_id: string; status: string; idempotency_key: string; transition_id: string | null }>(
      sql`select user_id, status, idempotency_key, transition_id from campaign_sends where campaign_id = ${campaignId} order by user_id`,
    );
    expect(sends).toEqual([
      { user_id: "", status: "sent", idempotency_key: expect.stringMatching(/^erased:\d+$/), transition_id: null },
      { user_id: kept, status: "sent", idempotency_key: expect.stringContaining(kept), transition_id: expect.stringContaining(kept) },
    ]);

    // Audited, by pseudonym only.
    const [audit] = await query<{ actor: string; entity_id: string; after: { removed: Record<string, number>; pseudonymKey: string } }>(
      sql`select actor, entity_id, after from audit_log where action = 'user.erased'`,
    );
    expect(audit).toMatchObject({ actor: "admin-api-key", entity_id: ref, after: { pseudonymKey: env.rt.piiKeys.currentId, removed: { profiles: 1 } } });
    expect(await query(sql`select 1 from audit_log where action = 'user.exported' and entity_id = ${ref}`)).toHaveLength(1);

    // The other user is untouched.
    expect(await env.rt.profiles.get(kept)).toMatchObject({ email: `kept-${run}@example.com`, deviceTokens: ["fcm-kept"] });
    expect(await env.rt.memberships.segmentsOf(kept)).toHaveLength(1);
    expect((await env.rt.history.ofUser(kept, { limit: 10 })).entries).toHaveLength(1);
    expect((await env.rt.events.recent(kept, 0, 100)).length).toBeGreaterThanOrEqual(2);

    // An export now finds nothing; erasing again is harmless.
    const empty = await call(exportRoute.GET, "GET", { params: { userId: gone } });
    expect(empty.body).toMatchObject({ profile: null, segments: [], history: [], events: [], campaignSends: [], webhookDeliveries: [] });
    const again = await call(userRoute.DELETE, "DELETE", { params: { userId: gone } });
    expect(again.status).toBe(200);
    expect(again.body.removed).toEqual({ profiles: 0, memberships: 0, history: 0, events: 0, sendsAnonymised: 0, webhookDeliveries: 0, unmappedSamples: 0, checkpoints: 0 });

    // A new event under the same id is a new user (nothing carried over from before).
    expect((await post(gone, "clicks")).status).toBe(202);
    await eventually(() => env.rt.processor!.engineOf(gone), (e) => e !== undefined, "the new user");
    expect(await env.rt.memberships.segmentsOf(gone)).toEqual([]);
  }, 120_000);

  it("the processor applies an erasure from the log by itself: state and what it wrote are gone", async () => {
    const u = `direct-${run}`;
    expect((await post(u, "orders")).status).toBe(202);
    await eventually(() => env.rt.memberships.segmentsOf(u), (m) => m.length === 1, "the membership");
    await eventually(() => env.rt.events.recent(u, 0, 10), (e) => e.length === 1, "the archived event");
    await env.rt.eventLog.append(TOPICS.userEvents, [{ key: u, value: JSON.stringify({ kind: "user-erased", userId: u, at: Date.now() }) }]);
    await eventually(() => env.rt.processor!.engineOf(u), (e) => e === undefined, "the engine forgets the user");
    await env.rt.processor!.idle();
    expect(await env.rt.memberships.segmentsOf(u)).toEqual([]);
    expect((await env.rt.history.ofUser(u, { limit: 10 })).entries).toEqual([]);
    expect(await env.rt.events.recent(u, 0, 10)).toEqual([]);
    for (const c of await checkpoints()) expect(c.users).not.toContain(u);
  });

  it("rewraps personal data under the current key (admin only)", async () => {
    const r = await call(rewrapRoute.POST, "POST", {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ currentKeyId: env.rt.piiKeys.currentId, scanned: 0, rewrapped: 0, unreadable: 0 });
    expectSeedError((await call(rewrapRoute.POST, "POST", { key: null })).body, "UNAUTHORIZED");
  });
});
