/**
 * The scale-out event log: Apache Kafka through kafkajs.
 *
 * Checked against Kafka 4.1 (KRaft; scripts/services.sh runs one): kafkajs 2.2.4 negotiates
 * protocol versions that 4.x still serves (KIP-896 removed only older ones).
 *
 * - Appends use an idempotent producer with acks=-1 and fail fast: after `appendTimeoutMs` (or a
 *   connection failure) they reject with EventLogUnavailableError, so an HTTP request gets a
 *   quick 503 instead of kafkajs' default minutes of retries. The producer is replaced after any
 *   failed send: kafkajs rolls its sequence numbers back on failure, and a broker that did write
 *   the failed batch would then take the next batch, sent with the same sequence, for a
 *   duplicate and drop it while acknowledging it.
 * - Consumers use `eachBatch` without auto-commit: a batch's offsets are resolved and committed
 *   only after the handler resolves; a rejected batch is handed to the handler again after a
 *   back-off (heartbeats continue meanwhile), so one partition waits while it fails.
 * - Topic names are logical (`lib/topics.ts`); `topicPrefix` is put in front of every name on the
 *   broker (`${prefix}user-events`), so deployments and test runs sharing one broker never read
 *   each other's messages. Consumers see the logical names again.
 */
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type ICustomPartitioner,
  type Producer,
} from "kafkajs";
import { errorChain } from "@/lib/errors";
import { partitionOfKey } from "@/lib/adapters/event-log/murmur2";

import {
  EventLogUnavailableError,
  type ConsumedMessage,
  type EventLog,
  type LogMessage,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from "@/lib/ports/event-log";

/** Where kafkajs' warnings and errors and this adapter's handler failures go. */
export type KafkaLogSink = (level: "error" | "warn", message: string, meta?: Record<string, unknown>) => void;

/** Options of {@link KafkaEventLog}. */
export interface KafkaEventLogOptions {
  /** `host:port` of one or more brokers. */
  brokers: string[];
  clientId: string;
  /** Put in front of every topic name on the broker (KAFKA_TOPIC_PREFIX). Default "". */
  topicPrefix?: string;
  /** Longest an append waits for the brokers' acknowledgement. Default 5000. */
  appendTimeoutMs?: number;
  /** TCP connect timeout. Default 3000. */
  connectionTimeoutMs?: number;
  /** Default 10000. */
  requestTimeoutMs?: number;
  /** Longest `subscribe` waits to join its group. Default 30000. */
  joinTimeoutMs?: number;
  /** Consumer group session timeout (the broker's minimum is 6000). Default 10000. */
  sessionTimeoutMs?: number;
  /** Default 1000. */
  heartbeatIntervalMs?: number;
  /** How long a fetch waits for new messages: the consumer's latency floor when idle. Default 250. */
  maxWaitTimeMs?: number;
  /** Delay before a rejected batch is handed over again; doubles per attempt up to `maxRetryDelayMs`. Default 100. */
  retryDelayMs?: number;
  /** Default 5000. */
  maxRetryDelayMs?: number;
  /** Default: one line on stderr per entry. */
  log?: KafkaLogSink;
}

const defaultSink: KafkaLogSink = (level, message, meta) => {
  const line = meta && Object.keys(meta).length > 0 ? `${message} ${JSON.stringify(meta)}` : message;
  if (level === "error") console.error(line);
  else console.warn(line);
};

function kafkajsLogCreator(sink: KafkaLogSink) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, ...meta } = log;
      // kafkajs logs every error response before it retries or throws it; callers see the error.
      if (message.startsWith("[Connection] Response")) return;
      // Deliberate: bounded retries keep appends fast, and the producer is replaced on failure.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      sink(level === logLevel.ERROR ? "error" : "warn", `kafkajs: ${message}`, meta);
    };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Kafka errors that say the request itself is wrong (too large, invalid) stay as they are;
 * everything else (connection, timeouts, leaders moving, retries exhausted) is retryable.
 */
function toUnavailable(error: unknown, what: string): Error {
  if (error instanceof EventLogUnavailableError) return error;
  const e = error as { name?: string; retriable?: boolean };
  if (e?.name === "KafkaJSProtocolError" && e.retriable === false) return error as Error;
  return new EventLogUnavailableError(`${what}: ${errorText(error)}`, { cause: error });
}

/** Keyed messages go where Kafka's DefaultPartitioner puts them; unkeyed ones round-robin. */
const keyPartitioner: ICustomPartitioner = () => {
  let next = 0;
  return ({ partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return partitionOfKey(message.key, partitionMetadata.length);
    return (next++ & 0x7fffffff) % partitionMetadata.length;
  };
};

const METADATA_LAG = new Set([
  "NOT_LEADER_FOR_PARTITION",
  "LEADER_NOT_AVAILABLE",
  "UNKNOWN_TOPIC_OR_PARTITION",
  // A broker that has just (re)started is still loading or electing the group coordinator
  // (__consumer_offsets): a worker starting then must wait, not exit.
  "GROUP_LOAD_IN_PROGRESS",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR_FOR_GROUP",
]);

/** Whether an error (or one it wraps) says the cluster's metadata has not caught up with a new topic yet. */
function metadataLag(error: unknown): boolean {
  for (const e of errorChain(error)) if (METADATA_LAG.has(String((e as { type?: unknown }).type))) return true;
  return false;
}

function headerValue(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last === undefined ? undefined : last.toString();
}

function toConsumed(topic: string, partition: number, message: KafkaMessage): ConsumedMessage {
  const consumed: ConsumedMessage = {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString("utf8") ?? "",
    value: message.value?.toString("utf8") ?? "",
    timestamp: Number(message.timestamp),
  };
  // Most messages carry no headers: no per-message objects for them.
  const raw = message.headers;
  if (raw) {
    let headers: Record<string, string> | undefined;
    for (const name in raw) {
      const text = headerValue(raw[name]);
      if (text !== undefined) (headers ??= {})[name] = text;
    }
    if (headers) consumed.headers = headers;
  }
  return consumed;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  // The loser of the race may still reject later; that rejection is expected and handled here.
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A lazily connected kafkajs client (producer or admin), dropped after a failure so the next use reconnects. */
class Connection<T extends { connect(): Promise<void>; disconnect(): Promise<void> }> {
  private current: Promise<T> | null = null;

  constructor(private readonly create: () => T) {}

  get(): Promise<T> {
    if (!this.current) {
      const client = this.create();
      const connecting = client.connect().then(() => client);
      this.current = connecting;
      connecting.catch(() => this.discard(connecting));
    }
    return this.current;
  }

  /** Disconnects `which` (the connection a failed call used) unless it was already replaced. */
  discard(which: Promise<T>): void {
    if (this.current === which) this.current = null;
    which.then((client) => client.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = null;
    if (current) await current.then((client) => client.disconnect()).catch(() => undefined);
  }
}

type Settings = Required<Omit<KafkaEventLogOptions, "brokers" | "clientId" | "log" | "topicPrefix">> & { log: KafkaLogSink };

class KafkaSubscription implements Subscription {
  private closed: Promise<void> | null = null;

  constructor(
    private readonly consumer: Consumer,
    private readonly onClosed: () => void,
    /** Stops restarting the consumer after a crash. */
    private readonly onClosing: () => void = () => undefined,
  ) {}

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.onClosing();
      // Waits for the in-flight batch (whose handler then commits), then leaves the group.
      await this.consumer.disconnect().catch(() => undefined);
      this.onClosed();
    })();
    return this.closed;
  }
}

/** The Kafka {@link EventLog}; see the module comment for its delivery and failure behaviour. */
export class KafkaEventLog implements EventLog {
  private readonly kafka: Kafka;
  private readonly settings: Settings;
  private readonly producer: Connection<Producer>;
  private readonly admin: Connection<Admin>;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closed: Promise<void> | null = null;
  private readonly prefix: string;

  constructor(options: KafkaEventLogOptions) {
    this.prefix = options.topicPrefix ?? "";
    this.settings = {
      appendTimeoutMs: options.appendTimeoutMs ?? 5000,
      connectionTimeoutMs: options.connectionTimeoutMs ?? 3000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      joinTimeoutMs: options.joinTimeoutMs ?? 30_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      maxWaitTimeMs: options.maxWaitTimeMs ?? 250,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      log: options.log ?? defaultSink,
    };
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: this.settings.connectionTimeoutMs,
      requestTimeout: this.settings.requestTimeoutMs,
      // A few quick retries; the caller's own retry (or the 503 it returns) covers longer outages.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: kafkajsLogCreator(this.settings.log),
    });
    this.producer = new Connection(() =>
      this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // The DefaultPartitioner's mapping (murmur2 of the key), in 32-bit math: kafkajs' own
        // allocates Long objects per 4 key bytes and filters the partition list per message.
        createPartitioner: keyPartitioner,
      }),
    );
    this.admin = new Connection(() => this.kafka.admin());
  }

  /** The broker's name of a logical topic. */
  physical(topic: string): string {
    return this.prefix + topic;
  }

  /** The logical name of a broker topic (this log only ever sees its own prefixed topics). */
  private logical(topic: string): string {
    return this.prefix && topic.startsWith(this.prefix) ? topic.slice(this.prefix.length) : topic;
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogUnavailableError("Kafka event log is closed");
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    if (topics.length === 0) return;
    // Creating topics returns before every broker knows them; kafkajs' wait for their leaders
    // can then fail with a retriable metadata error although they exist: look again.
    const until = Date.now() + this.settings.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.ensureTopicsOnce(topics);
      } catch (error) {
        if (!metadataLag(error) || Date.now() > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
  }

  private async ensureTopicsOnce(topics: TopicSpec[]): Promise<void> {
    const connection = this.admin.get();
    try {
      const admin = await connection;
      const existing = new Set(await admin.listTopics());
      const missing = topics
        .map((topic) => ({ ...topic, name: this.physical(topic.name) }))
        .filter((topic) => !existing.has(topic.name));
      if (missing.length === 0) return;
      // Only missing topics are sent: with any existing one in the request kafkajs returns
      // early and skips waiting for the new topics' leaders.
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic: topic.name, numPartitions: topic.partitions })),
        waitForLeaders: true,
        timeout: this.settings.requestTimeoutMs,
      });
    } catch (error) {
      // Another process created them between listTopics and createTopics.
      const errors = (error as { errors?: { type?: string }[] }).errors;
      if (errors?.length && errors.every((e) => e.type === "TOPIC_ALREADY_EXISTS")) return;
      this.admin.discard(connection);
      throw toUnavailable(error, "Kafka: could not ensure topics");
    }
  }

  /**
   * Deletes the given logical topics from the broker (tests and benchmarks remove the prefixed
   * topics they created). Not part of the EventLog port.
   */
  async deleteTopics(topics: string[]): Promise<void> {
    this.assertOpen();
    const connection = this.admin.get();
    try {
      const admin = await connection;
      const existing = new Set(await admin.listTopics());
      const doomed = topics.map((topic) => this.physical(topic)).filter((topic) => existing.has(topic));
      if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: this.settings.requestTimeoutMs });
    } catch (error) {
      this.admin.discard(connection);
      throw toUnavailable(error, "Kafka: could not delete topics");
    }
  }

  async append(topic: string, messages: LogMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const connection = this.producer.get();
    const timeoutMs = this.settings.appendTimeoutMs;
    try {
      await withTimeout(
        connection.then((producer) =>
          producer.send({
            topic: this.physical(topic),
            acks: -1,
            timeout: timeoutMs,
            messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
          }),
        ),
        timeoutMs,
        () => new EventLogUnavailableError(`Kafka did not acknowledge the append to ${topic} within ${timeoutMs} ms`),
      );
    } catch (error) {
      this.producer.discard(connection);
      throw toUnavailable(error, `Kafka: append to ${topic} failed`);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const { groupId, handleBatch } = options;
    const manual = options.commit === "manual";
    const topics = [...new Set(options.topics)].map((topic) => this.physical(topic));
    const logical = (topic: string) => this.logical(topic);
    if (topics.length === 0) throw new RangeError("subscribe: topics must not be empty");
    const settings = this.settings;
    const fromBeginning = options.fromBeginning !== false;
    // Without a committed offset kafkajs starts at the end as of its first fetch, some time
    // after joining; the end as of this call is pinned instead (and committed) so no message
    // appended after subscribe() resolves can be skipped.
    const starts = fromBeginning ? new Map<string, string>() : await this.uncommittedEnds(groupId, topics);

    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: Math.max(settings.sessionTimeoutMs, 10_000),
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
    });

    let joinedResolve: () => void = () => undefined;
    let joinedReject: (error: unknown) => void = () => undefined;
    const joined = new Promise<void>((resolve, reject) => {
      joinedResolve = resolve;
      joinedReject = reject;
    });
    joined.catch(() => undefined);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Runs synchronously inside the join, before the first fetch, so the seek takes effect.
      const pinned: { topic: string; partition: number; offset: string }[] = [];
      options.onAssignment?.(
        Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
          partitions.map((partition) => ({ topic: logical(topic), partition })),
        ),
      );
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          const offset = starts.get(`${topic}:${partition}`);
          if (offset === undefined) continue;
          starts.delete(`${topic}:${partition}`);
          consumer.seek({ topic, partition, offset });
          pinned.push({ topic, partition, offset });
        }
      }
      if (pinned.length > 0) {
        consumer.commitOffsets(pinned).catch((error: unknown) => {
          settings.log("warn", `Kafka: group ${groupId} could not commit its start offsets`, { error: errorText(error) });
        });
      }
      joinedResolve();
    });
    // kafkajs restarts a crashed consumer only after a retriable error; a broker away for longer
    // than its retries ends in a non-retriable one ("Failed to find group coordinator", a
    // connection error): the consumer would stay stopped for good. Once it has joined, restart it
    // here, backing off, until the subscription is closed.
    let runConfig: Parameters<Consumer["run"]>[0];
    const run = (config: Parameters<Consumer["run"]>[0]) => {
      runConfig = config;
      return consumer.run(config);
    };
    const life = { joinedOnce: false, closed: false, crashes: 0, timer: undefined as NodeJS.Timeout | undefined };
    const restartLater = (error: unknown) => {
      if (life.closed || life.timer) return;
      const delay = Math.min(1000 * 2 ** Math.min(life.crashes++, 4), 15_000);
      settings.log("error", `Kafka: consumer of group ${groupId} stopped; restarting it in ${delay} ms`, { error: errorText(error) });
      life.timer = setTimeout(() => {
        life.timer = undefined;
        if (life.closed) return;
        // A failed start crashes again (CRASH below) or throws here: either way, later again.
        consumer.connect().then(() => consumer.run(runConfig), (e: unknown) => restartLater(e));
      }, delay);
    };
    consumer.on(consumer.events.GROUP_JOIN, () => {
      life.joinedOnce = true;
      life.crashes = 0;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      if (life.joinedOnce) return restartLater(payload.error);
      settings.log("error", `Kafka: consumer of group ${groupId} stopped`, { error: errorText(payload.error) });
      joinedReject(payload.error);
    });

    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning });
      await run({
        autoCommit: false,
        partitionsConsumedConcurrently: Math.max(1, Math.floor(options.concurrency ?? 1)),
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.messages.length === 0) return;
          const topic = logical(batch.topic);
          const messages = batch.messages.map((m) => toConsumed(topic, batch.partition, m));
          for (let attempt = 0; ; attempt++) {
            // Not committed: the next fetch (or the partition's next owner) starts at this batch.
            if (!isRunning() || isStale()) return;
            const beat = setInterval(() => heartbeat().catch(() => undefined), settings.heartbeatIntervalMs);
            try {
              await handleBatch({
                topic,
                partition: batch.partition,
                messages: [...messages],
                highWatermark: batch.highWatermark,
                commit: (offset) =>
                  consumer.commitOffsets([
                    { topic: batch.topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() },
                  ]),
              });
              break;
            } catch (error) {
              settings.log(
                "warn",
                `Kafka: group ${groupId} handler rejected ${batch.topic}/${batch.partition} offsets ` +
                  `${messages[0]?.offset}..${messages.at(-1)?.offset}; delivering it again`,
                { error: errorText(error) },
              );
            } finally {
              clearInterval(beat);
            }
            await pause(
              Math.min(settings.retryDelayMs * 2 ** Math.min(attempt, 20), settings.maxRetryDelayMs),
              settings.heartbeatIntervalMs,
              heartbeat,
              isRunning,
            );
          }
          const last = messages.at(-1)!.offset;
          resolveOffset(last);
          if (manual) return;
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
          ]);
        },
      });
      await withTimeout(
        joined,
        settings.joinTimeoutMs,
        () => new EventLogUnavailableError(`Kafka: group ${groupId} did not join within ${settings.joinTimeoutMs} ms`),
      );
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw toUnavailable(error, `Kafka: could not subscribe group ${groupId}`);
    }

    const subscription = new KafkaSubscription(consumer, () => this.subscriptions.delete(subscription), () => {
      life.closed = true;
      clearTimeout(life.timer);
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** End offsets (`topic:partition` → offset) of the partitions where `groupId` has no committed offset. */
  private async uncommittedEnds(groupId: string, topics: string[]): Promise<Map<string, string>> {
    // Right after a topic is created its partitions' leaders are not known everywhere yet
    // (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION, all retriable):
    // keep asking for a while rather than failing the subscription.
    const until = Date.now() + this.settings.joinTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.uncommittedEndsOnce(groupId, topics);
      } catch (error) {
        if (!metadataLag(error) || Date.now() > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
  }

  private async uncommittedEndsOnce(groupId: string, topics: string[]): Promise<Map<string, string>> {
    const connection = this.admin.get();
    try {
      const admin = await connection;
      const committed = await admin.fetchOffsets({ groupId, topics });
      const ends = new Map<string, string>();
      for (const topic of topics) {
        const done = new Set(
          committed
            .find((entry) => entry.topic === topic)
            ?.partitions.filter((p) => BigInt(p.offset) >= 0n)
            .map((p) => p.partition) ?? [],
        );
        const pinned: { partition: number; offset: string }[] = [];
        for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
          if (done.has(partition)) continue;
          ends.set(`${topic}:${partition}`, high);
          pinned.push({ partition, offset: high });
        }
        // Commit the start before joining, so a member that dies before its first commit does
        // not leave the group without a position (its successor would start at a later end).
        // This fails while the group has running members; they already hold positions.
        if (pinned.length > 0) await admin.setOffsets({ groupId, topic, partitions: pinned }).catch(() => undefined);
      }
      return ends;
    } catch (error) {
      this.admin.discard(connection);
      throw toUnavailable(error, `Kafka: could not read offsets of group ${groupId}`);
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
      await Promise.all([this.producer.close(), this.admin.close()]);
    })();
    return this.closed;
  }
}

/** Waits `ms`, heartbeating so the group keeps the member, and stops early when the consumer stops. */
async function pause(
  ms: number,
  heartbeatIntervalMs: number,
  heartbeat: () => Promise<void>,
  isRunning: () => boolean,
): Promise<void> {
  const until = Date.now() + ms;
  while (isRunning() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(heartbeatIntervalMs, until - Date.now(), 100)));
    await heartbeat().catch(() => undefined);
  }
}
