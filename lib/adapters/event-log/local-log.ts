/**
 * The embedded-mode event log: a durable, partitioned, append-only log in local files, with
 * Kafka's delivery semantics (per-key order, consumer groups, at-least-once) for one process.
 *
 * Layout under the root directory:
 * ```
 * LOCK                        pid (and start time) of the process that has the log open
 * topics/<topic>/meta.json    { "partitions": n }
 * topics/<topic>/<p>.log      records of partition p
 * groups/<sha256(groupId)>.json   committed offsets of one consumer group
 * ```
 * A record is `u32 length | u32 crc32(payload) | payload` (big-endian), the payload being JSON
 * `{k, v, h?, t}`. An offset is the record's index in its partition file. Opening a topic scans
 * its files once, checking every checksum, and truncates a torn tail left by a crash; only a
 * sparse index (one file position per {@link INDEX_STRIDE} records) is kept in memory.
 *
 * Limits, by design for embedded mode: one process owns the directory (a LOCK file with its pid
 * refuses a second opener); one subscription per consumer group at a time (a second `subscribe`
 * in an active group is refused); no retention or compaction (files grow until deleted).
 */
import { createHash } from "node:crypto";
import { constants as fsConstants, readFileSync } from "node:fs";
import { mkdir, open, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";

import {
  EventLogUnavailableError,
  type ConsumedBatch,
  type ConsumedMessage,
  type EventLog,
  type LogMessage,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from "@/lib/ports/event-log";

/** Options of {@link LocalEventLog}. */
export interface LocalEventLogOptions {
  /** Root directory of the log, e.g. `${DATA_DIR}/log`; created when missing. */
  dir: string;
  /** Most messages in one delivered batch. Default 500. */
  maxBatchMessages?: number;
  /** Most payload bytes in one delivered batch (a single larger record is still delivered). Default 1 MiB. */
  maxBatchBytes?: number;
  /** Delay before a rejected batch is delivered again; doubles per attempt up to `maxRetryDelayMs`. Default 100. */
  retryDelayMs?: number;
  /** Default 5000. */
  maxRetryDelayMs?: number;
  /** Receives handler rejections and background failures. Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

/** One file position is kept in memory per this many records of a partition. */
export const INDEX_STRIDE = 64;
const HEADER_BYTES = 8;
/** Larger length fields are treated as corruption. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const MAX_PARTITIONS = 1024;

// ---------------------------------------------------------------------------- records

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE); zlib.crc32 would do but needs Node 20.15, above this project's engine floor. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface StoredPayload {
  k: string;
  v: string;
  h?: Record<string, string>;
  t: number;
}

function encodeRecord(message: LogMessage, timestamp: number): Buffer {
  const stored: StoredPayload = { k: message.key, v: message.value, t: timestamp };
  if (message.headers && Object.keys(message.headers).length > 0) stored.h = message.headers;
  const payload = Buffer.from(JSON.stringify(stored), "utf8");
  if (payload.length > MAX_RECORD_BYTES) {
    throw new RangeError(`message of ${payload.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  }
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  record.writeUInt32BE(payload.length, 0);
  record.writeUInt32BE(crc32(payload), 4);
  payload.copy(record, HEADER_BYTES);
  return record;
}

function decodePayload(payload: Buffer, topic: string, partition: number, offset: number): ConsumedMessage {
  const stored = JSON.parse(payload.toString("utf8")) as StoredPayload;
  const message: ConsumedMessage = {
    topic,
    partition,
    offset: String(offset),
    key: stored.k,
    value: stored.v,
    timestamp: stored.t,
  };
  if (stored.h) message.headers = stored.h;
  return message;
}

type RecordVisitor = (payload: Buffer, start: number) => boolean;

/**
 * Reads whole, checksum-valid records from `[pos, end)`, calling `visit` for each until it
 * returns false. Returns the position after the last record visited, and whether reading
 * stopped at an invalid or incomplete record (a torn tail when `end` is the file size).
 */
async function readRecords(
  fh: FileHandle,
  pos: number,
  end: number,
  visit: RecordVisitor,
): Promise<{ pos: number; torn: boolean }> {
  let buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(end - pos, HEADER_BYTES)));
  while (pos < end) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (bytesRead === 0) return { pos, torn: true };
    let off = 0;
    let needed = 0;
    while (off < bytesRead) {
      if (bytesRead - off < HEADER_BYTES) {
        if (pos + bytesRead >= end) return { pos: pos + off, torn: true };
        needed = HEADER_BYTES;
        break;
      }
      const length = buf.readUInt32BE(off);
      if (length === 0 || length > MAX_RECORD_BYTES || pos + off + HEADER_BYTES + length > end) {
        return { pos: pos + off, torn: true };
      }
      if (off + HEADER_BYTES + length > bytesRead) {
        needed = HEADER_BYTES + length;
        break;
      }
      const payload = buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + length);
      if (crc32(payload) !== buf.readUInt32BE(off + 4)) return { pos: pos + off, torn: true };
      const more = visit(payload, pos + off);
      off += HEADER_BYTES + length;
      if (!more) return { pos: pos + off, torn: false };
    }
    if (off === 0 && needed > buf.length) buf = Buffer.allocUnsafe(needed);
    pos += off;
  }
  return { pos, torn: false };
}

// ---------------------------------------------------------------------------- files

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

let tmpCounter = 0;

/** Replaces `file` with `data` so that a crash leaves either the old or the new content. */
async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

async function readJsonIfExists(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as unknown;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A process's start time in clock ticks since boot (Linux), to tell it from a later process reusing its pid. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)" start at field 3; starttime is field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

interface LockOwner {
  pid: number;
  start?: string;
}

/** Whether the process that wrote the lock still runs (a restarted container often reuses the pid). */
function ownerAlive(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return false;
  return owner.start === undefined || processStart(owner.pid) === owner.start;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === "number" && owner.pid > 0 ? { pid: owner.pid, start: owner.start } : undefined;
  } catch {
    return undefined;
  }
}

async function acquireLock(file: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      try {
        const owner: LockOwner = { pid: process.pid, start: processStart(process.pid) };
        await fh.writeFile(JSON.stringify(owner), "utf8");
        await fh.sync();
      } finally {
        await fh.close();
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = parseOwner(await readFile(file, "utf8").catch(() => ""));
      if (owner && ownerAlive(owner)) {
        throw new Error(
          `local event log ${path.dirname(file)} is already open by process ${owner.pid}` +
            (owner.pid === process.pid ? " (this process: share one LocalEventLog instance)" : ""),
        );
      }
      // Left by a process that died: take it over.
      await unlink(file).catch(() => undefined);
    }
  }
  throw new Error(`could not lock ${file}`);
}

// ---------------------------------------------------------------------------- partitions

interface PendingAppend {
  records: Buffer[];
  resolve(): void;
  reject(error: unknown): void;
}

/** One partition file: its writer (group commit: one write and one fdatasync per flush) and sparse index. */
class Partition {
  /** Bytes of the file that are durable and readable. */
  size = 0;
  /** Offset the next record gets. */
  next = 0;
  /** index[i] is the file position of offset i * INDEX_STRIDE. */
  private readonly index: number[] = [];
  private pending: PendingAppend[] = [];
  /** Set and cleared synchronously with the pending queue, so no append is left unflushed. */
  private flushing = false;
  private flushed: Promise<void> = Promise.resolve();
  private broken: Error | null = null;

  private constructor(
    readonly topic: string,
    readonly id: number,
    private readonly fh: FileHandle,
    private readonly onAppended: () => void,
  ) {}

  static async open(topic: string, id: number, file: string, onAppended: () => void): Promise<Partition> {
    const fh = await open(file, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    try {
      const partition = new Partition(topic, id, fh, onAppended);
      await partition.recover();
      return partition;
    } catch (error) {
      await fh.close();
      throw error;
    }
  }

  private async recover(): Promise<void> {
    const { size } = await this.fh.stat();
    const { pos, torn } = await readRecords(this.fh, 0, size, (_payload, start) => {
      this.indexRecord(start);
      return true;
    });
    if (torn) {
      // An append that crashed between write and fdatasync; it was never acknowledged.
      await this.fh.truncate(pos);
      await this.fh.datasync();
    }
    this.size = pos;
  }

  private indexRecord(start: number): void {
    if (this.next % INDEX_STRIDE === 0) this.index.push(start);
    this.next++;
  }

  append(records: Buffer[]): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const done = new Promise<void>((resolve, reject) => this.pending.push({ records, resolve, reject }));
    if (!this.flushing) {
      this.flushing = true;
      this.flushed = this.flush();
    }
    return done;
  }

  /** Resolves once every append accepted so far has settled. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushed;
  }

  private async flush(): Promise<void> {
    try {
      await this.flushPending();
    } finally {
      this.flushing = false;
    }
  }

  private async flushPending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const records = batch.flatMap((entry) => entry.records);
      const data = Buffer.concat(records);
      try {
        if (this.broken) throw this.broken;
        let written = 0;
        while (written < data.length) {
          const { bytesWritten } = await this.fh.write(data, written, data.length - written, this.size + written);
          written += bytesWritten;
        }
        await this.fh.datasync();
      } catch (error) {
        await this.rollBack();
        const failure =
          error instanceof EventLogUnavailableError
            ? error
            : new EventLogUnavailableError(`local event log: write to ${this.topic}/${this.id} failed`, {
                cause: error,
              });
        for (const entry of batch) entry.reject(failure);
        continue;
      }
      let pos = this.size;
      for (const record of records) {
        this.indexRecord(pos);
        pos += record.length;
      }
      this.size = pos;
      for (const entry of batch) entry.resolve();
      this.onAppended();
    }
  }

  /** Cuts off a partly written batch so the next append starts on a record boundary. */
  private async rollBack(): Promise<void> {
    try {
      await this.fh.truncate(this.size);
      await this.fh.datasync();
    } catch (error) {
      this.broken = new EventLogUnavailableError(
        `local event log: ${this.topic}/${this.id} could not be repaired after a failed write; reopen the log`,
        { cause: error },
      );
    }
  }

  /** File position of the record at `offset` (0 ≤ offset ≤ next). */
  async positionOf(offset: number): Promise<number> {
    if (offset >= this.next) return this.size;
    const slot = Math.floor(offset / INDEX_STRIDE);
    let skip = offset - slot * INDEX_STRIDE;
    const start = this.index[slot] ?? 0;
    if (skip === 0) return start;
    const { pos } = await readRecords(this.fh, start, this.size, () => --skip > 0);
    return pos;
  }

  /** Reads records from `pos` (the position of `offset`) up to the limits. */
  async read(
    offset: number,
    pos: number,
    maxMessages: number,
    maxBytes: number,
  ): Promise<{ messages: ConsumedMessage[]; pos: number }> {
    const messages: ConsumedMessage[] = [];
    let bytes = 0;
    const result = await readRecords(this.fh, pos, this.size, (payload) => {
      messages.push(decodePayload(payload, this.topic, this.id, offset + messages.length));
      bytes += payload.length;
      return messages.length < maxMessages && bytes < maxBytes;
    });
    if (result.torn) {
      throw new Error(`local event log: ${this.topic}/${this.id} is corrupt at byte ${result.pos}`);
    }
    return { messages, pos: result.pos };
  }

  async close(): Promise<void> {
    await this.drain();
    await this.fh.close();
  }
}

interface Topic {
  name: string;
  partitions: Partition[];
  subscribers: Set<LocalSubscription>;
}

// ---------------------------------------------------------------------------- groups

type GroupOffsets = Record<string, Record<string, number>>;

interface GroupFile {
  groupId: string;
  offsets: GroupOffsets;
}

// ---------------------------------------------------------------------------- subscription

interface Cursor {
  partition: Partition;
  offset: number;
  pos: number;
}

class LocalSubscription implements Subscription {
  private closing = false;
  private dirty = true;
  /** Ends the wait for new data (appends and close). */
  private wakeUp: (() => void) | null = null;
  /** Ends a retry back-off early (close only). */
  private interrupt: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private closed: Promise<void> | null = null;

  constructor(
    private readonly groupId: string,
    private readonly topics: Topic[],
    private readonly cursors: Cursor[],
    private readonly handleBatch: SubscribeOptions["handleBatch"],
    private readonly commit: (cursor: Cursor) => Promise<void>,
    private readonly commitOffset: (topic: string, partition: number, offset: number) => Promise<void>,
    private readonly manual: boolean,
    private readonly onClosed: () => void,
    private readonly options: Required<Omit<LocalEventLogOptions, "dir">>,
  ) {}

  start(): void {
    for (const topic of this.topics) topic.subscribers.add(this);
    this.loop = this.run();
  }

  /** Called after an append to one of the subscribed topics. */
  notify(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = null;
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.interrupt?.(), ms);
      this.interrupt = () => {
        clearTimeout(timer);
        this.interrupt = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      this.dirty = false;
      let progressed = false;
      try {
        for (const cursor of this.cursors) {
          if (this.closing) break;
          if (cursor.offset >= cursor.partition.next) continue;
          const { messages, pos } = await cursor.partition.read(
            cursor.offset,
            cursor.pos,
            this.options.maxBatchMessages,
            this.options.maxBatchBytes,
          );
          if (messages.length === 0) continue;
          const { topic, id } = { topic: cursor.partition.topic, id: cursor.partition.id };
          const batch: ConsumedBatch = {
            topic,
            partition: id,
            messages,
            highWatermark: String(cursor.partition.next),
            commit: (offset) => this.commitOffset(topic, id, Number(offset) + 1),
          };
          if (!(await this.deliver(batch))) break;
          cursor.offset += messages.length;
          cursor.pos = pos;
          if (!this.manual) await this.commit(cursor);
          progressed = true;
        }
        failures = 0;
      } catch (error) {
        this.options.onError(`local event log: group ${this.groupId} failed to read or commit`, error);
        await this.sleep(this.backoff(failures++));
        continue;
      }
      if (!progressed && !this.dirty && !this.closing) await this.waitForData();
    }
  }

  /** Hands the batch to the handler until it resolves (true) or the subscription closes (false). */
  private async deliver(batch: ConsumedBatch): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.closing) return false;
      try {
        await this.handleBatch({ ...batch, messages: [...batch.messages] });
        return true;
      } catch (error) {
        this.options.onError(
          `local event log: group ${this.groupId} handler rejected ${batch.topic}/${batch.partition} ` +
            `offsets ${batch.messages[0]?.offset}..${batch.messages.at(-1)?.offset}; delivering it again`,
          error,
        );
        await this.sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.options.retryDelayMs * 2 ** Math.min(attempt, 20), this.options.maxRetryDelayMs);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      this.wakeUp?.();
      this.interrupt?.();
      await this.loop;
      for (const topic of this.topics) topic.subscribers.delete(this);
      this.onClosed();
    })();
    return this.closed;
  }
}

// ---------------------------------------------------------------------------- the log

/** The in-process durable {@link EventLog}; see the module comment for layout and limits. */
export class LocalEventLog implements EventLog {
  private readonly topics = new Map<string, Promise<Topic | undefined>>();
  private readonly creating = new Map<string, Promise<void>>();
  /** Groups with a subscription in this log, or one being set up (null). */
  private readonly activeGroups = new Map<string, LocalSubscription | null>();
  private readonly groupOffsets = new Map<string, GroupOffsets>();
  private closed: Promise<void> | null = null;
  private opened: Promise<void> | null = null;
  private readonly dir: string;
  private readonly options: Required<Omit<LocalEventLogOptions, "dir">>;

  /** Touches no file: the directory is created and locked by the first call (or {@link open}). */
  constructor(options: LocalEventLogOptions) {
    this.dir = path.resolve(options.dir);
    this.options = {
      maxBatchMessages: options.maxBatchMessages ?? 500,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      onError: options.onError ?? ((message, error) => console.error(message, error)),
    };
  }

  /** Creates the directory when missing and locks it for this process; rejects if another process holds it. */
  open(): Promise<void> {
    if (this.closed) return Promise.reject(new EventLogUnavailableError("local event log is closed"));
    this.opened ??= (async () => {
      await mkdir(path.join(this.dir, "topics"), { recursive: true });
      await mkdir(path.join(this.dir, "groups"), { recursive: true });
      await acquireLock(path.join(this.dir, "LOCK"));
    })();
    return this.opened;
  }

  private topicDir(name: string): string {
    return path.join(this.dir, "topics", name);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    await this.open();
    for (const spec of topics) {
      if (!TOPIC_NAME.test(spec.name) || spec.name === "." || spec.name === "..") {
        throw new RangeError(`invalid topic name ${JSON.stringify(spec.name)}`);
      }
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1 || spec.partitions > MAX_PARTITIONS) {
        throw new RangeError(`topic ${spec.name}: partitions must be an integer in 1..${MAX_PARTITIONS}`);
      }
    }
    await Promise.all(topics.map((spec) => this.createTopic(spec)));
  }

  private createTopic(spec: TopicSpec): Promise<void> {
    let creating = this.creating.get(spec.name);
    if (!creating) {
      creating = (async () => {
        const dir = this.topicDir(spec.name);
        const metaFile = path.join(dir, "meta.json");
        if ((await readJsonIfExists(metaFile)) !== undefined) return;
        await mkdir(dir, { recursive: true });
        for (let p = 0; p < spec.partitions; p++) {
          await (await open(path.join(dir, `${p}.log`), "a")).close();
        }
        await fsyncDir(dir);
        // meta.json is written last: its presence means the partition files exist.
        await writeFileAtomic(metaFile, JSON.stringify({ partitions: spec.partitions }));
        await fsyncDir(path.dirname(dir));
        // A lookup made before the topic existed cached "missing".
        this.topics.delete(spec.name);
      })().finally(() => this.creating.delete(spec.name));
      this.creating.set(spec.name, creating);
    }
    return creating;
  }

  private topic(name: string): Promise<Topic | undefined> {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = this.openTopic(name);
      this.topics.set(name, topic);
      // A failed open is retried on the next call.
      topic.then(
        (t) => t === undefined && this.topics.get(name) === topic && this.topics.delete(name),
        () => this.topics.get(name) === topic && this.topics.delete(name),
      );
    }
    return topic;
  }

  private async openTopic(name: string): Promise<Topic | undefined> {
    if (!TOPIC_NAME.test(name)) return undefined;
    const meta = (await readJsonIfExists(path.join(this.topicDir(name), "meta.json"))) as
      | { partitions?: unknown }
      | undefined;
    if (meta === undefined) return undefined;
    const count = meta.partitions;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1) {
      throw new Error(`local event log: ${name}/meta.json is invalid`);
    }
    const topic: Topic = { name, partitions: [], subscribers: new Set() };
    const notify = () => {
      for (const subscriber of topic.subscribers) subscriber.notify();
    };
    try {
      for (let p = 0; p < count; p++) {
        topic.partitions.push(await Partition.open(name, p, path.join(this.topicDir(name), `${p}.log`), notify));
      }
    } catch (error) {
      await Promise.all(topic.partitions.map((partition) => partition.close()));
      throw error;
    }
    return topic;
  }

  private async requireTopic(name: string): Promise<Topic> {
    const topic = await this.topic(name);
    if (!topic) throw new Error(`local event log: unknown topic ${JSON.stringify(name)} (call ensureTopics first)`);
    return topic;
  }

  async append(topicName: string, messages: LogMessage[]): Promise<void> {
    await this.open();
    if (messages.length === 0) return;
    const topic = await this.requireTopic(topicName);
    const timestamp = Date.now();
    const byPartition = new Map<Partition, Buffer[]>();
    for (const message of messages) {
      const partition = topic.partitions[partitionFor(message.key, topic.partitions.length)]!;
      const records = byPartition.get(partition);
      const record = encodeRecord(message, timestamp);
      if (records) records.push(record);
      else byPartition.set(partition, [record]);
    }
    await Promise.all([...byPartition].map(([partition, records]) => partition.append(records)));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    await this.open();
    const { groupId } = options;
    if (options.topics.length === 0) throw new RangeError("subscribe: topics must not be empty");
    if (this.activeGroups.has(groupId)) {
      throw new Error(`local event log: group ${JSON.stringify(groupId)} already has a subscription in this process`);
    }
    this.activeGroups.set(groupId, null);
    try {
      const subscription = await this.startSubscription(options);
      this.activeGroups.set(groupId, subscription);
      if (this.closed) {
        // close() ran while this subscription was being set up and did not see it.
        await subscription.close();
        throw new EventLogUnavailableError("local event log is closed");
      }
      return subscription;
    } catch (error) {
      this.activeGroups.delete(groupId);
      throw error;
    }
  }

  private async startSubscription(options: SubscribeOptions): Promise<LocalSubscription> {
    const { groupId } = options;
    const topics = await Promise.all([...new Set(options.topics)].map((name) => this.requireTopic(name)));
    const offsets = await this.loadGroup(groupId);
    const cursors: Cursor[] = [];
    let startsRecorded = false;
    for (const topic of topics) {
      const committed = (offsets[topic.name] ??= {});
      for (const partition of topic.partitions) {
        let offset = committed[partition.id];
        if (offset === undefined) {
          offset = options.fromBeginning === false ? partition.next : 0;
          // Recorded now so a restart before the first commit resumes here, not at a later end.
          committed[partition.id] = offset;
          startsRecorded = true;
        }
        offset = Math.min(offset, partition.next);
        cursors.push({ partition, offset, pos: await partition.positionOf(offset) });
      }
    }
    if (startsRecorded) await this.saveGroup(groupId);
    const subscription = new LocalSubscription(
      groupId,
      topics,
      cursors,
      options.handleBatch,
      (cursor) => {
        const group = this.groupOffsets.get(groupId)!;
        (group[cursor.partition.topic] ??= {})[cursor.partition.id] = cursor.offset;
        return this.saveGroup(groupId);
      },
      (topic, partition, offset) => {
        const group = this.groupOffsets.get(groupId)!;
        (group[topic] ??= {})[partition] = offset;
        return this.saveGroup(groupId);
      },
      options.commit === "manual",
      () => {
        if (this.activeGroups.get(groupId) === subscription) this.activeGroups.delete(groupId);
      },
      this.options,
    );
    subscription.start();
    // One process owns the log: every partition is this member's.
    options.onAssignment?.(cursors.map((c) => ({ topic: c.partition.topic, partition: c.partition.id })));
    return subscription;
  }

  private groupFile(groupId: string): string {
    return path.join(this.dir, "groups", `${createHash("sha256").update(groupId).digest("hex").slice(0, 32)}.json`);
  }

  private async loadGroup(groupId: string): Promise<GroupOffsets> {
    let offsets = this.groupOffsets.get(groupId);
    if (!offsets) {
      const file = (await readJsonIfExists(this.groupFile(groupId))) as GroupFile | undefined;
      offsets = file?.offsets ?? {};
      this.groupOffsets.set(groupId, offsets);
    }
    return offsets;
  }

  private async saveGroup(groupId: string): Promise<void> {
    const file: GroupFile = { groupId, offsets: this.groupOffsets.get(groupId) ?? {} };
    await writeFileAtomic(this.groupFile(groupId), JSON.stringify(file));
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await Promise.all([...this.activeGroups.values()].map((subscription) => subscription?.close()));
      await Promise.all([...this.creating.values()].map((creating) => creating.catch(() => undefined)));
      const topics = await Promise.all(
        [...this.topics.values()].map((topic) => topic.catch(() => undefined)),
      );
      await Promise.all(
        topics.flatMap((topic) => topic?.partitions ?? []).map((partition) => partition.close()),
      );
      const locked = await this.opened?.then(
        () => true,
        () => false,
      );
      if (locked) await unlink(path.join(this.dir, "LOCK")).catch(() => undefined);
    })();
    return this.closed;
  }
}

/** Stable partition of a key: FNV-1a over its UTF-8 bytes. Not Kafka's murmur2; nothing needs them to agree. */
export function partitionFor(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
