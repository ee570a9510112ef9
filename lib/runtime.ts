import path from "node:path";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Logger } from "pino";
import { openPglite, openPostgres, type DatabaseHandle } from "@/db/client";
import { createApiKeyStore } from "@/lib/adapters/db/api-key-store";
import { createAccountStore } from "@/lib/adapters/db/account-store";
import { createAuditStore } from "@/lib/adapters/db/audit-store";
import { bootstrapAdmin, type AccountDeps } from "@/lib/services/accounts";
import { createOutboxStore } from "@/lib/adapters/db/outbox-store";
import { createSegmentStore } from "@/lib/adapters/db/segment-store";
import { createCheckpointStore } from "@/lib/adapters/db/checkpoint-store";
import { createPgMembershipHistory, createPgMembershipStore, createPgTransitionWriter } from "@/lib/adapters/memberships/postgres";
import type { MembershipHistory, MembershipStore } from "@/lib/ports/memberships";
import type { UserEventArchive } from "@/lib/ports/user-events";
import type { ProfileStore } from "@/lib/ports/profiles";
import { createProfileStore } from "@/lib/adapters/db/profile-store";
import { createPrivacyStore } from "@/lib/adapters/db/privacy-store";
import { generateKeySpec, parseKeyring, type Keyring } from "@/lib/privacy/crypto";
import type { PrivacyDeps } from "@/lib/services/privacy";
import { startRetentionJob, type RetentionJob } from "@/lib/services/retention";
import { createUserEventArchive } from "@/lib/adapters/db/user-event-archive";
import { createEvaluationProgressStore } from "@/lib/adapters/db/evaluation-progress-store";
import {
  startSegmentProcessor,
  type SegmentProcessor,
  type SegmentProcessorOptions,
} from "@/lib/services/segment-processor";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { env as readEnv, type Env } from "@/lib/env";
import { closeMessageSenders, createMessageSenders } from "@/lib/adapters/channels";
import { createSendStore } from "@/lib/adapters/db/send-store";
import { createRunStore } from "@/lib/adapters/db/run-store";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { MessageSender } from "@/lib/ports/messages";
import { startCampaignDispatcher, type Dispatcher, type DispatcherOptions } from "@/lib/services/campaign-dispatcher";
import { startWebhookDispatcher, type WebhookDispatcher, type WebhookDispatcherOptions } from "@/lib/services/webhook-dispatcher";
import type { IntegrationDeps } from "@/lib/services/integrations";
import { createWebhookStore } from "@/lib/adapters/db/webhook-store";
import { createSegmentIngestStore } from "@/lib/adapters/db/segment-ingest-store";
import { createSendExportStore } from "@/lib/adapters/db/send-export-store";
import { createCampaignStore } from "@/lib/adapters/db/campaign-store";
import type { CampaignDeps } from "@/lib/services/campaigns";
import { logger } from "@/lib/log";
import { createJwtVerifier, jwtConfigFromEnv, type JwtVerifier } from "@/lib/auth/jwt";
import { instrumentEventLog, instrumentSends } from "@/lib/metrics/instrument";
import type { ApiKeyStore } from "@/lib/ports/auth";
import { systemClock, type Clock } from "@/lib/ports/clock";
import type { EventLog } from "@/lib/ports/event-log";
import type { SegmentStore } from "@/lib/ports/segments";
import { startOutboxRelay, type OutboxRelay } from "@/lib/services/outbox-relay";
import type { SegmentDeps } from "@/lib/services/segments";
import { ALL_TOPICS, TOPICS } from "@/lib/topics";
import { createPopulationReader, createSegmentActivityReader } from "@/lib/adapters/db/segment-insights";
import { createStatsStore } from "@/lib/adapters/db/stats-store";
import { metrics } from "@/lib/metrics";
import type { InsightDeps } from "@/lib/services/segment-insights";
import type { StatsDeps } from "@/lib/services/stats";

/**
 * The composition root: builds the adapters the configuration selects and holds them for the
 * process. Selection is by configuration only (DATABASE_URL, KAFKA_BROKERS); nothing else in
 * the tree forks on mode.
 */
export interface Runtime {
  env: Env;
  clock: Clock;
  log: Logger;
  db: DatabaseHandle;
  eventLog: EventLog;
  segments: SegmentStore;
  apiKeys: ApiKeyStore;
  /** Verifies JWT bearer tokens (null: JWT auth is not configured). */
  jwt: JwtVerifier | null;
  /** UI accounts, API keys and the audit log, for the account use cases. */
  accountDeps: AccountDeps;
  /** Signs the UI's session tokens (NEXTAUTH_SECRET, else a secret kept in DATA_DIR). */
  authSecret: string;
  /** Encrypts personal data at rest (PII_KEYS, else a key kept in DATA_DIR/pii-keys). */
  piiKeys: Keyring;
  /** The deps of erasure, export and key rotation (lib/services/privacy.ts). */
  privacyDeps: PrivacyDeps;
  /** The deps of the segment insight use cases (hourly activity, size estimate). */
  insightDeps: InsightDeps;
  /** The deps of the dashboard overview and the recently-active users list. */
  statsDeps: StatsDeps;
  /** The retention purge of this process (web processes; pm2's several take turns by a lock). */
  retention: RetentionJob | null;
  relay: OutboxRelay;
  memberships: MembershipStore;
  history: MembershipHistory;
  events: UserEventArchive;
  profiles: ProfileStore;
  /** The segment processor running in this process (embedded mode), if any. */
  processor: SegmentProcessor | null;
  /** The campaign dispatcher running in this process (embedded mode), if any. */
  dispatcher: Dispatcher | null;
  /** The webhook dispatcher running in this process (embedded mode), if any. */
  webhooks: WebhookDispatcher | null;
  /** The deps of Segment-spec ingestion, webhooks and CSV exports. */
  integrations: IntegrationDeps;
  /** The deps the campaign use cases take. */
  campaignDeps: CampaignDeps;
  /** The deps the segment use cases take. */
  segmentDeps: SegmentDeps;
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  db?: DatabaseHandle;
  eventLog?: EventLog;
  clock?: Clock;
  /** Skip applying migrations (the caller did). */
  skipMigrations?: boolean;
  /** Run the segment processor in this process (default: IN_PROCESS_WORKERS, else embedded mode). */
  workers?: boolean;
  /** Options of the in-process segment processor (tests isolate themselves with a group id). */
  processor?: Partial<Omit<SegmentProcessorOptions, "instanceId">>;
  /** Options of the in-process campaign dispatcher. */
  dispatcher?: DispatcherOptions;
  /** Run only one of the workers (a worker process of its own). */
  only?: "processor" | "dispatcher" | "webhooks";
  /** Options of the in-process webhook dispatcher. */
  webhooks?: WebhookDispatcherOptions;
  /** Channel providers (default: those the environment configures). */
  senders?: Map<ChannelType, MessageSender>;
  /** Run the retention purge on a timer (default: in web processes, i.e. without `only`). */
  retention?: boolean;
}

export async function openMembershipStore(env: Env, db: DatabaseHandle): Promise<MembershipStore> {
  if (env.AEROSPIKE_HOSTS) {
    const { createAerospikeMembershipStore } = await import("@/lib/adapters/memberships/aerospike");
    return createAerospikeMembershipStore({ hosts: env.AEROSPIKE_HOSTS, namespace: env.AEROSPIKE_NAMESPACE });
  }
  return createPgMembershipStore(db.db);
}

/**
 * List-Unsubscribe for campaign emails: UNSUBSCRIBE_URL (with {userId} and {campaignId}), else a
 * mailto: to the sender's address naming the user and the campaign.
 */
function unsubscribeLink(env: Env): ((userId: string, campaignId: string) => string | undefined) | undefined {
  if (env.UNSUBSCRIBE_URL) {
    const template = env.UNSUBSCRIBE_URL;
    return (userId, campaignId) =>
      template.replace("{userId}", encodeURIComponent(userId)).replace("{campaignId}", encodeURIComponent(campaignId));
  }
  const address = /<([^>]+)>/.exec(env.SMTP_FROM ?? "")?.[1] ?? env.SMTP_FROM;
  if (!address) return undefined;
  return (userId, campaignId) =>
    `mailto:${address}?subject=${encodeURIComponent(`unsubscribe ${userId} ${campaignId}`)}`;
}

/** A random secret created once in DATA_DIR (0600) and shared by the processes of this machine. */
function loadOrCreateSecret(dataDir: string): string {
  const file = path.resolve(dataDir, "auth-secret");
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    writeFileSync(file, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return readFileSync(file, "utf8").trim();
}

/**
 * The keys encrypting personal data: PII_KEYS, else one created once in DATA_DIR/pii-keys (0600;
 * same file form as PII_KEYS) and shared by the processes of this machine. Losing that file
 * loses the data it encrypts: back it up with the database, or set PII_KEYS.
 */
function loadPiiKeys(env: Env, log: Logger): Keyring {
  if (env.PII_KEYS) return parseKeyring(env.PII_KEYS);
  const file = path.resolve(env.DATA_DIR, "pii-keys");
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    writeFileSync(file, `${generateKeySpec(`k${Date.now().toString(36)}`)}\n`, { flag: "wx", mode: 0o600 });
    log.info({ file }, "created a key for personal data at rest (set PII_KEYS to manage keys yourself)");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  if (env.DATABASE_URL) {
    log.warn({ file }, "PII_KEYS is not set: personal data is encrypted with the key in DATA_DIR/pii-keys; every process reading profiles needs the same key");
  }
  return parseKeyring(readFileSync(file, "utf8").trim());
}

/** A process-unique id, for per-process consumer groups. */
export const instanceId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;

export async function openDatabase(env: Env): Promise<DatabaseHandle> {
  return env.DATABASE_URL ? openPostgres(env.DATABASE_URL) : openPglite(path.resolve(env.DATA_DIR, "pglite"));
}

export async function openEventLog(env: Env): Promise<EventLog> {
  if (env.KAFKA_BROKERS) {
    const { KafkaEventLog } = await import("@/lib/adapters/event-log/kafka");
    return new KafkaEventLog({ brokers: env.KAFKA_BROKERS, clientId: env.KAFKA_CLIENT_ID, topicPrefix: env.KAFKA_TOPIC_PREFIX });
  }
  const { LocalEventLog } = await import("@/lib/adapters/event-log/local-log");
  return new LocalEventLog({ dir: path.resolve(env.DATA_DIR, "log") });
}

export async function createRuntime(env: Env, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const log = logger();
  const clock = overrides.clock ?? systemClock;
  const jwtConfig = jwtConfigFromEnv(env);
  const jwt = jwtConfig ? await createJwtVerifier(jwtConfig) : null;
  const db = overrides.db ?? (await openDatabase(env));
  if (!overrides.skipMigrations) await db.migrate();
  const eventLog = overrides.eventLog ?? (await openEventLog(env));
  try {
    await eventLog.ensureTopics(ALL_TOPICS.map((name) => ({ name, partitions: env.KAFKA_PARTITIONS })));
  } catch (error) {
    // The API still serves reads; the relay retries publishing until the log is back.
    log.error({ err: error }, "could not ensure topics; continuing, the outbox relay will retry");
  }
  const segments = createSegmentStore(db.db);
  const relay = startOutboxRelay({
    store: createOutboxStore(db.db),
    log: eventLog,
    onError: (err) => log.warn({ err }, "outbox relay: publish failed, will retry"),
  });
  const memberships = await openMembershipStore(env, db);
  const history = createPgMembershipHistory(db.db);
  const events = createUserEventArchive(db.db);
  const progress = createEvaluationProgressStore(db.db);
  const runWorkers = overrides.workers ?? env.IN_PROCESS_WORKERS ?? !env.KAFKA_BROKERS;
  const processor = runWorkers && (overrides.only === undefined || overrides.only === "processor")
    ? await startSegmentProcessor(
        {
          // Instrumented: consumer lag, evaluation latency, transitions published (lib/metrics).
          eventLog: instrumentEventLog(eventLog, {
            consumer: "segment-processor",
            latencyTopics: [TOPICS.userEvents],
            transitionsTopic: TOPICS.segmentMemberships,
          }),
          segments,
          memberships,
          history,
          // Memberships and history in one statement when both live in PostgreSQL (not with Aerospike).
          transitions: env.AEROSPIKE_HOSTS ? undefined : createPgTransitionWriter(db.db),
          checkpoints: createCheckpointStore(db.db),
          archive: events,
          progress,
          clock,
          log,
        },
        {
          groupId: env.SEGMENT_PROCESSOR_GROUP,
          fromBeginning: env.SEGMENT_PROCESSOR_START === "beginning",
          ...overrides.processor,
          instanceId: instanceId(),
        },
      )
    : null;
  const campaignStore = createCampaignStore(db.db);
  const piiKeys = loadPiiKeys(env, log);
  const profiles = createProfileStore(db.db, piiKeys);
  const senders = overrides.senders ?? createMessageSenders(env);
  const runs = createRunStore(db.db);
  const dispatcher = runWorkers && (overrides.only === undefined || overrides.only === "dispatcher")
    ? await startCampaignDispatcher(
        {
          eventLog: instrumentEventLog(eventLog, { consumer: "campaign-dispatcher" }),
          campaigns: campaignStore,
          sends: instrumentSends(createSendStore(db.db)),
          profiles,
          segments,
          senders,
          runs,
          memberships,
          clock,
          log,
        },
        {
          groupId: env.CAMPAIGN_DISPATCHER_GROUP,
          runStaleAfterMs: env.DISPATCHER_TAKEOVER_SECONDS * 1000,
          unsubscribe: unsubscribeLink(env),
          stuckAfterMs: env.DISPATCHER_TAKEOVER_SECONDS * 1000,
          channelRateLimits: env.CHANNEL_RATE_LIMITS,
          ...overrides.dispatcher,
        },
      )
    : null;
  const webhookStore = createWebhookStore(db.db);
  const webhooks = runWorkers && (overrides.only === undefined || overrides.only === "webhooks")
    ? await startWebhookDispatcher(
        { eventLog: instrumentEventLog(eventLog, { consumer: "webhook-dispatcher" }), webhooks: webhookStore, segments, clock, log, secretKey: env.WEBHOOK_SECRET_KEY },
        { groupId: env.WEBHOOK_DISPATCHER_GROUP, ...overrides.webhooks },
      )
    : null;
  const apiKeys = createApiKeyStore(db.db);
  const accountDeps: AccountDeps = { accounts: createAccountStore(db.db), apiKeys, audit: createAuditStore(db.db) };
  if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD && overrides.only === undefined) {
    if (await bootstrapAdmin(accountDeps, env.ADMIN_EMAIL, env.ADMIN_PASSWORD, clock.now())) {
      log.info({ email: env.ADMIN_EMAIL }, "created the first admin from ADMIN_EMAIL");
    }
  }
  const authSecret = env.NEXTAUTH_SECRET ?? (overrides.only === undefined ? loadOrCreateSecret(env.DATA_DIR) : "");
  const privacyStore = createPrivacyStore(db.db);
  const retention = (overrides.retention ?? overrides.only === undefined)
    ? startRetentionJob({ store: privacyStore, clock, log }, { retentionDays: env.RETENTION_DAYS })
    : null;
  let closing: Promise<void> | undefined;
  return {
    env,
    clock,
    log,
    db,
    eventLog,
    segments,
    apiKeys,
    jwt,
    accountDeps,
    authSecret,
    piiKeys,
    privacyDeps: { store: privacyStore, profiles, memberships, history, events, segments, eventLog, keys: piiKeys },
    insightDeps: {
      segments,
      memberships,
      activity: createSegmentActivityReader(db.db),
      population: createPopulationReader(db.db),
    },
    statsDeps: {
      stats: createStatsStore(db.db),
      memberships,
      processor,
      processorGroup: env.SEGMENT_PROCESSOR_GROUP,
      // The in-process processor's consumer lag on user-events (lib/metrics), summed over its partitions.
      backlog: processor
        ? async () => {
            const gauge = await metrics().consumerLag.get();
            const mine = gauge.values.filter((v) => v.labels.consumer === "segment-processor" && v.labels.topic === TOPICS.userEvents);
            return mine.length === 0 ? null : mine.reduce((a, v) => a + v.value, 0);
          }
        : null,
    },
    retention,
    relay,
    memberships,
    history,
    events,
    profiles,
    processor,
    dispatcher,
    webhooks,
    integrations: {
      segmentIngest: {
        eventLog,
        apiKeys,
        adminApiKey: env.ADMIN_API_KEY,
        store: createSegmentIngestStore(db.db),
        profiles,
        eventMap: env.SEGMENT_EVENT_MAP,
        onError: (err, what) => log.warn({ err }, what),
      },
      webhooks: { webhooks: webhookStore, segments, secretKey: env.WEBHOOK_SECRET_KEY, audit: accountDeps.audit },
      exports: { segments, memberships, campaigns: campaignStore, sendExport: createSendExportStore(db.db) },
    },
    campaignDeps: {
      campaigns: campaignStore,
      channels: new Set(senders.keys()),
      runs,
      notifyRun: (runId, campaignId) =>
        eventLog.append(TOPICS.campaignTriggers, [{ key: campaignId, value: JSON.stringify({ runId, campaignId }) }]),
    },
    segmentDeps: {
      segments,
      memberships,
      onCommitted: () => relay.kick(),
      progress,
    },
    close() {
      closing ??= (async () => {
        await retention?.close();
        await webhooks?.close();
        await dispatcher?.close();
        await processor?.close();
        await closeMessageSenders(senders);
        await relay.close();
        await memberships.close?.();
        await eventLog.close();
        await db.close();
      })();
      return closing;
    },
  };
}

// Next bundles route handlers separately from server.ts: share the process's runtime through
// globalThis, not a module variable.
const KEY = Symbol.for("audience-manager.runtime");
const g = globalThis as unknown as { [KEY]?: Promise<Runtime> };

/** The process's runtime, created from the environment on first use. */
export function runtime(): Promise<Runtime> {
  g[KEY] ??= createRuntime(readEnv());
  return g[KEY];
}

/** Installs a runtime built elsewhere (server start-up, tests). */
export function installRuntime(rt: Runtime | Promise<Runtime>): void {
  g[KEY] = Promise.resolve(rt);
}

export function uninstallRuntime(): void {
  delete g[KEY];
}
