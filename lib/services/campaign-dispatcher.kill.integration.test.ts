/**
 * A batch run over 10,000 members sends exactly 10,000 messages, even when the dispatcher
 * process is SIGKILLed mid-run and another one takes the run over. The SMS provider here is a
 * local server speaking the Twilio shape, which (like Twilio) deduplicates on the
 * I-Twilio-Idempotency-Token header. Needs real PostgreSQL and Kafka.
 */
import type { ChildProcess } from "node:child_process";
import { startWorker } from "@/test/support/wait";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type DatabaseHandle } from "@/db/client";
import { userProfiles } from "@/db/schema";
import { createCampaignStore } from "@/lib/adapters/db/campaign-store";
import { createRunStore } from "@/lib/adapters/db/run-store";
import { createSegmentStore } from "@/lib/adapters/db/segment-store";
import { createPgMembershipStore } from "@/lib/adapters/memberships/postgres";
import { createCampaignSchema } from "@/lib/campaigns/campaign";
import { createSegmentSchema } from "@/lib/segments/definition";
import { createCampaign, setCampaignStatus, triggerCampaign } from "./campaigns";
import { createSegment } from "./segments";

const databaseUrl = process.env.DATABASE_URL;
const brokers = process.env.KAFKA_BROKERS;
const suite = databaseUrl && brokers ? describe : describe.skip;


suite("campaign dispatcher SIGKILLed during a 10,000-member batch run (PostgreSQL + Kafka)", () => {
  const run = randomBytes(4).toString("hex");
  const dbName = `am_dispatch_kill_${run}`;
  let admin: DatabaseHandle;
  let db: DatabaseHandle;
  let receiver: Server;
  const byToken = new Map<string, string>(); // idempotency token → recipient
  let requests = 0;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    admin = await openPostgres(databaseUrl!, { max: 1 });
    await admin.exec(`create database ${dbName}`);
    const url = new URL(databaseUrl!);
    url.pathname = `/${dbName}`;
    db = await openPostgres(url.toString());
    await db.migrate();
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        requests++;
        const token = String(req.headers["i-twilio-idempotency-token"] ?? "");
        const to = new URLSearchParams(body).get("To") ?? "";
        if (!byToken.has(token)) byToken.set(token, to);
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ sid: `SM${token.length}${byToken.size}` }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await db?.close();
    await admin?.exec(`drop database if exists ${dbName} with (force)`);
    await admin?.close();
  });

  it("ends with exactly one message per member", async () => {
    const ctx = { actor: "test", traceId: "dispatch-kill", now: new Date() };
    const segment = await createSegment(
      { segments: createSegmentStore(db.db) },
      createSegmentSchema.parse({ name: "everyone", rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 0, windowMinutes: 60 }] }),
      ctx,
    );
    const runs = createRunStore(db.db);
    const deps = { campaigns: createCampaignStore(db.db), channels: new Set(["sms"] as const), runs };
    const campaign = await createCampaign(
      deps,
      createCampaignSchema.parse({ name: "flash sale", segmentId: segment.id, channelType: "sms", trigger: "BATCH", template: "Flash sale!" }),
      ctx,
    );
    await setCampaignStatus(deps, campaign.id, "ACTIVE", ctx);

    const n = 10_000;
    const users = Array.from({ length: n }, (_, i) => `member-${String(i).padStart(5, "0")}`);
    for (let i = 0; i < n; i += 2_000) {
      await db.db.insert(userProfiles).values(users.slice(i, i + 2_000).map((userId, j) => ({ userId, phone: `+4915${String(100_000_000 + i + j)}` })));
    }
    await createPgMembershipStore(db.db).apply(
      users.map((userId) => ({ userId, segmentId: segment.id, kind: "enter" as const, at: Date.now(), cause: "event" as const, version: 1 })),
    );

    const port = (receiver.address() as AddressInfo).port;
    const testDbUrl = new URL(databaseUrl!);
    testDbUrl.pathname = `/${dbName}`;
    const env = {
      DATABASE_URL: testDbUrl.toString(),
      KAFKA_BROKERS: brokers!,
      TEST_DISPATCHER_GROUP: `dispatch-kill-${run}`,
      DISPATCHER_TAKEOVER_SECONDS: "2",
      SMS_BASE_URL: `http://127.0.0.1:${port}`,
      SMS_ACCOUNT_SID: "AC123",
      SMS_AUTH_TOKEN: "secret",
      SMS_FROM: "+15550000000",
    };
    const first = await startWorker("test/support/dispatcher-worker.ts", env);
    children.push(first);
    const started = await triggerCampaign(deps, campaign.id, ctx);

    // Kill it a quarter of the way through the run.
    for (let i = 0; i < 1200 && byToken.size < n / 4; i++) await new Promise((r) => setTimeout(r, 25));
    expect(byToken.size).toBeGreaterThan(0);
    expect(byToken.size).toBeLessThan(n);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const atKill = byToken.size;
    children.push(await startWorker("test/support/dispatcher-worker.ts", env));

    const until = Date.now() + 150_000;
    let state = await runs.get(started.id);
    while (state?.status !== "COMPLETED" && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      state = await runs.get(started.id);
    }
    expect(state?.status).toBe("COMPLETED");
    const progress = await runs.progress(started.id);
    expect(progress).toEqual({ sent: n, skipped: 0, failed: 0, queued: 0 });
    expect(byToken.size).toBe(n);
    expect(new Set(byToken.values()).size).toBe(n);
    expect(atKill).toBeLessThan(n);
    // Requests beyond n are re-sends of calls the kill interrupted, deduplicated by the provider.
    expect(requests - n).toBeLessThan(50);
  }, 240_000);
});
