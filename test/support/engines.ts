import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openPglite, openPostgres, type DatabaseHandle } from "@/db/client";
import { parseEnv } from "@/lib/env";
import type { EventLog } from "@/lib/ports/event-log";
import { createRuntime, type Runtime } from "@/lib/runtime";
import type { Clock } from "@/lib/ports/clock";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender } from "@/lib/ports/messages";
import { ALL_TOPICS } from "@/lib/topics";
import type { DispatcherOptions } from "@/lib/services/campaign-dispatcher";
import type { WebhookDispatcherOptions } from "@/lib/services/webhook-dispatcher";

/**
 * Integration suites run on every configured engine: always the embedded ones (PGlite, the
 * local log), and PostgreSQL / Kafka too when DATABASE_URL / KAFKA_BROKERS are set.
 */
export interface EngineCase {
  name: string;
  openDb(): Promise<DatabaseHandle & { drop(): Promise<void> }>;
  openLog(): Promise<EventLog & { cleanup(): Promise<void> }>;
}

const realDatabaseUrl = process.env.DATABASE_URL;
const realBrokers = process.env.KAFKA_BROKERS;

async function pgliteDb() {
  const handle = await openPglite();
  await handle.migrate();
  return { ...handle, drop: () => handle.close() };
}

/** A fresh database on the configured server, dropped afterwards. */
async function postgresDb(url: string) {
  const name = `am_test_${randomBytes(6).toString("hex")}`;
  const admin = await openPostgres(url, { max: 1 });
  await admin.exec(`create database ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const handle = await openPostgres(u.toString());
  await handle.migrate();
  return {
    ...handle,
    drop: async () => {
      await handle.close();
      await admin.exec(`drop database if exists ${name} with (force)`);
      await admin.close();
    },
  };
}

async function localLog() {
  const { LocalEventLog } = await import("@/lib/adapters/event-log/local-log");
  const dir = mkdtempSync(path.join(tmpdir(), "am-log-"));
  const log = new LocalEventLog({ dir });
  return Object.assign(log, {
    cleanup: async () => {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * Kafka with topics of its own: every log gets a unique topic prefix (KAFKA_TOPIC_PREFIX), so
 * runs and suites sharing the broker never see each other's messages; the topics are deleted
 * at cleanup.
 */
async function kafkaLog(brokers: string) {
  const { KafkaEventLog } = await import("@/lib/adapters/event-log/kafka");
  const topicPrefix = `am-test-${randomBytes(4).toString("hex")}.`;
  const log = new KafkaEventLog({ brokers: brokers.split(","), clientId: `am-test-${randomBytes(3).toString("hex")}`, topicPrefix });
  return Object.assign(log, {
    topicPrefix,
    cleanup: async () => {
      await log.deleteTopics(ALL_TOPICS).catch(() => undefined);
      await log.close();
    },
  });
}

export const engineCases: EngineCase[] = [
  { name: "embedded (PGlite + local log)", openDb: pgliteDb, openLog: localLog },
  ...(realDatabaseUrl
    ? [
        {
          name: `server (PostgreSQL${realBrokers ? " + Kafka" : " + local log"})`,
          openDb: () => postgresDb(realDatabaseUrl),
          openLog: realBrokers ? () => kafkaLog(realBrokers) : localLog,
        },
      ]
    : []),
];

export const ADMIN_KEY = "test-admin-key-0123456789abcdef";

/** A full runtime over a fresh database and log, with an optional fixed clock. */
export async function openTestRuntime(
  engine: EngineCase,
  options: {
    clock?: Clock;
    workers?: boolean;
    senders?: Map<ChannelType, MessageSender>;
    dispatcher?: DispatcherOptions;
    webhooks?: WebhookDispatcherOptions;
    /** Extra environment (e.g. SEGMENT_EVENT_MAP, WEBHOOK_SECRET_KEY). */
    env?: Record<string, string>;
  } = {},
) {
  const db = await engine.openDb();
  const log = await engine.openLog();
  const dataDir = mkdtempSync(path.join(tmpdir(), "am-data-"));
  const env = parseEnv({ NODE_ENV: "test", ADMIN_API_KEY: ADMIN_KEY, DATA_DIR: dataDir, KAFKA_PARTITIONS: "2", ...options.env });
  const rt: Runtime = await createRuntime(env, {
    db,
    eventLog: log,
    clock: options.clock,
    skipMigrations: true,
    workers: options.workers ?? false,
    senders: options.senders ?? new Map(),
    processor: {
      // Each runtime's Kafka topics are its own (a unique prefix); a group of its own and reading
      // from the end keep it so should a suite share a log between runtimes.
      groupId: `segment-processor-test-${randomBytes(4).toString("hex")}`,
      fromBeginning: false,
    },
    dispatcher: {
      groupId: `campaign-dispatcher-test-${randomBytes(4).toString("hex")}`,
      fromBeginning: false,
      ...options.dispatcher,
    },
    webhooks: {
      groupId: `webhook-dispatcher-test-${randomBytes(4).toString("hex")}`,
      fromBeginning: false,
      ...options.webhooks,
    },
  });
  return {
    rt,
    db,
    log,
    async close() {
      await rt.retention?.close();
      await rt.webhooks?.close();
      await rt.dispatcher?.close();
      await rt.processor?.close();
      await rt.relay.close();
      await log.cleanup();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
