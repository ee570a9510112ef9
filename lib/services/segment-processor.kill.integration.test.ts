/**
 * A segment-processor process is SIGKILLed mid-stream, restarted, and must end with exactly the
 * memberships a brute-force oracle computes from the same events — none lost, none doubled.
 * Needs real PostgreSQL and Kafka (two processes cannot share the embedded engines).
 */
import type { ChildProcess } from "node:child_process";
import { startWorker } from "@/test/support/wait";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { openPostgres, type DatabaseHandle } from "@/db/client";
import { KafkaEventLog } from "@/lib/adapters/event-log/kafka";
import { createSegmentStore } from "@/lib/adapters/db/segment-store";
import type { EngineEvent } from "@/lib/evaluation/engine";
import { oracleMemberships } from "@/lib/evaluation/oracle";
import type { IngestedEvent } from "@/lib/events/schema";
import { createSegmentSchema } from "@/lib/segments/definition";
import { definitionOf } from "@/lib/segments/model";
import { createSegment } from "@/lib/services/segments";
import { ALL_TOPICS, TOPICS } from "@/lib/topics";

const databaseUrl = process.env.DATABASE_URL;
const brokers = process.env.KAFKA_BROKERS;
const suite = databaseUrl && brokers ? describe : describe.skip;


suite("segment processor SIGKILLed mid-stream (PostgreSQL + Kafka)", () => {
  const run = randomBytes(4).toString("hex");
  const dbName = `am_kill_${run}`;
  const topicPrefix = `am-kill-${run}.`;
  let admin: DatabaseHandle;
  let db: DatabaseHandle;
  const logs: KafkaEventLog[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    admin = await openPostgres(databaseUrl!, { max: 1 });
    await admin.exec(`create database ${dbName}`);
    const url = new URL(databaseUrl!);
    url.pathname = `/${dbName}`;
    db = await openPostgres(url.toString());
    await db.migrate();
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    for (const log of logs) {
      await log.deleteTopics(ALL_TOPICS).catch(() => undefined);
      await log.close();
    }
    await db?.close();
    await admin?.exec(`drop database if exists ${dbName} with (force)`);
    await admin?.close();
  });

  it.each([
    ["kill" as const, "converges to the oracle's memberships after a SIGKILL and a restart"],
    ["rebalance" as const, "converges when a second process joins mid-stream and partitions move"],
  ])("%s: %s", async (mode, _title) => {
    const tag = `${mode}-${run}`;
    // Topics of its own (its workers get the same KAFKA_TOPIC_PREFIX): neither the other case's
    // workers nor anything else on the broker reach them.
    const prefix = `${topicPrefix}${mode}.`;
    const log = new KafkaEventLog({ brokers: brokers!.split(","), clientId: `kill-test-${tag}`, topicPrefix: prefix });
    logs.push(log);
    const store = createSegmentStore(db.db);
    const ctx = { actor: "test", traceId: "kill-test", now: new Date() };
    const defs = [
      { name: `carts ${tag}`, rules: [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }] },
      { name: `spend ${tag}`, rules: [{ eventType: "orders", attribute: "sum", operator: "GT", value: 100, windowMinutes: 1440 }] },
      { name: `quiet ${tag}`, rules: [{ eventType: "clicks", attribute: "count", operator: "LT", value: 2, windowMinutes: 120 }] },
      { name: `exact ${tag}`, rules: [{ eventType: "installs", attribute: "count", operator: "EQ", value: 1, windowMinutes: 1440 }] },
    ];
    const created = [];
    for (const d of defs) created.push(await createSegment({ segments: store }, createSegmentSchema.parse(d), ctx));
    created.push(
      await createSegment(
        { segments: store },
        createSegmentSchema.parse({ name: `carts-not-spend ${tag}`, logicalExpression: `${created[0]!.id} AND NOT ${created[1]!.id}` }),
        ctx,
      ),
    );

    const testDbUrl = new URL(databaseUrl!);
    testDbUrl.pathname = `/${dbName}`;
    const env = {
      DATABASE_URL: testDbUrl.toString(),
      KAFKA_BROKERS: brokers!,
      KAFKA_TOPIC_PREFIX: prefix,
      TEST_PROCESSOR_GROUP: `kill-test-${tag}`,
      TEST_CHECKPOINT_MS: "150",
    };
    const first = await startWorker("test/support/processor-worker.ts", env);
    children.push(first);

    // 12,000 events for 600 users, all within the last 50 minutes: no window edge is crossed
    // while the test runs, so the memberships depend on the events alone.
    const users = Array.from({ length: 600 }, (_, i) => `kill-${tag}-${i}`);
    const types = ["addToCart", "orders", "clicks", "installs"] as const;
    const now = Date.now();
    const events: IngestedEvent[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 12_000; i++) {
      events.push({
        eventId: randomUUID(),
        userId: users[Math.floor(rand() * users.length)]!,
        eventType: types[Math.floor(rand() * types.length)]!,
        timestamp: now - Math.floor(rand() * 50 * 60_000),
        attributes: { value: Math.floor(rand() * 60) },
        receivedAt: now,
      });
    }
    const send = async (slice: IngestedEvent[]) => {
      for (let i = 0; i < slice.length; i += 500) {
        await log.append(
          TOPICS.userEvents,
          slice.slice(i, i + 500).map((e) => ({ key: e.userId, value: JSON.stringify(e) })),
        );
      }
    };
    await send(events.slice(0, 6_000));
    // Mid-stream, once it has checkpointed at least once: kill it (the restart restores a
    // checkpoint and replays what came after it), or add a second process (a rebalance moves
    // partitions, and their state through the checkpoints, to it).
    const checkpoints = async () => {
      const r = (await db.db.execute(
        sql.raw(`select count(*)::int as n from processor_checkpoints where group_id = 'kill-test-${tag}'`),
      )) as unknown as {
        rows: { n: number }[];
      };
      return r.rows[0]!.n;
    };
    for (let i = 0; i < 400 && (await checkpoints()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await checkpoints()).toBeGreaterThan(0);
    if (mode === "kill") {
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      await send(events.slice(6_000));
      children.push(await startWorker("test/support/processor-worker.ts", env));
    } else {
      children.push(await startWorker("test/support/processor-worker.ts", env));
      await send(events.slice(6_000));
    }

    const oracle = oracleMemberships(
      created.map((s) => definitionOf(s)),
      events.map((event) => ({ event: event as EngineEvent, acceptedAt: now })),
      users,
      Date.now(),
    );
    const expected = [...oracle.entries()].flatMap(([u, segs]) => segs.map((s) => `${u} ${s}`)).sort();

    // Other tests' processors share this database: look at this test's segments only.
    const mine = created.map((c) => `'${c.id}'`).join(",");
    const actual = async () => {
      const r = (await db.db.execute(
        sql.raw(
          `select user_id, segment_id from user_segment_memberships where user_id like 'kill-${tag}-%' and segment_id in (${mine})`,
        ),
      )) as unknown as { rows: { user_id: string; segment_id: string }[] };
      return r.rows.map((x) => `${x.user_id} ${x.segment_id}`).sort();
    };
    const until = Date.now() + 90_000;
    let got = await actual();
    while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      got = await actual();
    }
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
    expect(expected.length).toBeGreaterThan(100);

    // History agrees: exactly one open entry per current membership, no duplicates.
    const open = (await db.db.execute(
      sql.raw(`select user_id, segment_id, count(*)::int as n from user_segment_history
       where user_id like 'kill-${tag}-%' and segment_id in (${mine}) and exited_at is null group by 1, 2`),
    )) as unknown as { rows: { user_id: string; segment_id: string; n: number }[] };
    expect(open.rows.every((r) => r.n === 1)).toBe(true);
    expect(open.rows.map((r) => `${r.user_id} ${r.segment_id}`).sort()).toEqual(expected);
  }, 180_000);
});
