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
  /**
   * The offset the next message appended to this partition will get, when the adapter knows it
   * (consumer lag = highWatermark − last offset − 1; metrics only).
   */
  highWatermark?: string;
  /**
   * Commits this partition's position as "everything through `offset` is done" (the next
   * subscriber of the group starts after it). With `commit: "manual"` this is the only way
   * offsets get committed.
   */
  commit(offset: string): Promise<void>;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. Default: true (the beginning). */
  fromBeginning?: boolean;
  /**
   * Called once per batch. With the default `commit: "batch"` the batch's offsets are committed
   * after it resolves. A rejection commits nothing; the batch is delivered again (after a
   * back-off, holding up that partition: poison messages are the handler's to dead-letter).
   */
  handleBatch(batch: ConsumedBatch): Promise<void>;
  /**
   * "batch" (default): commit after every handled batch. "manual": the handler decides, through
   * `batch.commit()` — for consumers that checkpoint state together with the offset it covers.
   */
  commit?: "batch" | "manual";
  /**
   * How many partitions' batches may be in the handler at once (default 1). Batches of one
   * partition are never handled concurrently, so per-partition order holds; the handler must be
   * safe across partitions. Adapters that deliver one batch at a time may ignore it.
   */
  concurrency?: number;
  /**
   * Called with the partitions this member now owns, on every (re)assignment; a partition
   * missing from the list has moved to another member.
   */
  onAssignment?(partitions: PartitionRef[]): void;
}

/**
 * `subscribe` resolves once the group is joined and the start positions are fixed: a message
 * appended after it resolves is delivered (with fromBeginning=false, "the end" means the end as
 * of the call).
 */
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
