/**
 * The event log port: Kafka in production, an in-process durable log in embedded mode.
 *
 * Both adapters pass one contract suite (lib/adapters/event-log/contract.ts).
 * Delivery is at least once: a batch's offsets are committed only after its handler resolves.
 */

/** A message to append. `value` is the serialized payload (JSON text); consumers re-validate it. */
export interface LogMessage {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

/** A message read back from the log. */
export interface ConsumedMessage extends LogMessage {
  topic: string;
  partition: number;
  /** Offset within the partition, as a decimal string (Kafka offsets exceed 2^53 in theory). */
  offset: string;
  /** Append time, epoch milliseconds. */
  timestamp: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
}

/** A batch of messages from one partition, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. Default: true (the beginning). */
  fromBeginning?: boolean;
  /**
   * Called once per batch; the batch's offsets are committed after it resolves.
   * A rejection stops the batch from being committed; it is delivered again.
   */
  handleBatch(batch: ConsumedBatch): Promise<void>;
}

export interface Subscription {
  /** Stops consuming after the in-flight batch, commits, and leaves the group. Idempotent. */
  close(): Promise<void>;
}

/** Raised when the log cannot accept an append (broker unreachable, disk failure). Retryable. */
export class EventLogUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EventLogUnavailableError";
  }
}

export interface EventLog {
  /** Creates missing topics; existing topics are left as they are. Idempotent. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * Appends messages and resolves only once they are durable (Kafka: acks from all in-sync
   * replicas; local: fsync'd). Messages with the same key keep their order.
   * Rejects with EventLogUnavailableError when that cannot be guaranteed.
   */
  append(topic: string, messages: LogMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Closes producers, consumers and files. Idempotent. */
  close(): Promise<void>;
}
