/**
 * The EventLog contract: one suite that every adapter passes (local log and Kafka alike).
 * Call {@link eventLogContract} from an adapter's `*.integration.test.ts`.
 *
 * Topic and group names carry a random suffix, so the suite can run again and again against
 * one long-lived broker.
 */
import { randomBytes } from "node:crypto";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  EventLogUnavailableError,
  type ConsumedBatch,
  type ConsumedMessage,
  type EventLog,
  type LogMessage,
  type SubscribeOptions,
  type Subscription,
} from "@/lib/ports/event-log";

/** What the contract needs from an adapter's test setup. */
export interface EventLogHarness {
  log: EventLog;
  /**
   * Opens another EventLog over the same storage, to be called after `log.close()`; enables the
   * durability test. The harness's `cleanup` closes what it returned.
   */
  reopen?: () => Promise<EventLog>;
  /** Closes the log(s) and removes what the test created, where it can. */
  cleanup(): Promise<void>;
}

/** Per-test limit: Kafka group joins and rebalances take seconds. */
const TEST_TIMEOUT_MS = 60_000;
/** How long to watch for messages that must not come. */
const QUIET_MS = 500;

/** A unique, Kafka-legal name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` (test-side only) until it holds or `timeoutMs` passes. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Records every batch handed to it; `fail(batch)` returning true makes that delivery reject. */
export class Collector {
  readonly batches: ConsumedBatch[] = [];
  readonly failed: ConsumedBatch[] = [];

  constructor(private readonly fail: (batch: ConsumedBatch, collector: Collector) => boolean = () => false) {}

  readonly handleBatch = async (batch: ConsumedBatch): Promise<void> => {
    if (this.fail(batch, this)) {
      this.failed.push(batch);
      throw new Error("handler failure injected by the contract test");
    }
    this.batches.push(batch);
  };

  get messages(): ConsumedMessage[] {
    return this.batches.flatMap((batch) => batch.messages);
  }

  values(): string[] {
    return this.messages.map((message) => message.value);
  }
}

function messagesFor(prefix: string, count: number, keys = 1): LogMessage[] {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}-key-${i % keys}`, value: `${prefix}-${i}` }));
}

/**
 * Registers the EventLog contract suite for one adapter.
 * `make` is called before every test and must give a fresh, open log.
 */
export function eventLogContract(name: string, make: () => Promise<EventLogHarness>): void {
  describe(`EventLog contract: ${name}`, () => {
    let harness: EventLogHarness;
    let log: EventLog;

    beforeEach(async () => {
      harness = await make();
      log = harness.log;
    });

    afterEach(async () => {
      await harness?.cleanup();
    });

    async function topic(partitions = 1): Promise<string> {
      const name = uniqueName("contract");
      await log.ensureTopics([{ name, partitions }]);
      return name;
    }

    function subscribe(
      target: EventLog,
      topicName: string,
      collector: Collector,
      options: Partial<SubscribeOptions> = {},
    ): Promise<Subscription> {
      return target.subscribe({
        groupId: options.groupId ?? uniqueName("group"),
        topics: [topicName],
        fromBeginning: options.fromBeginning,
        handleBatch: collector.handleBatch,
        commit: options.commit,
        onAssignment: options.onAssignment,
      });
    }

    it(
      "manual commit: only what the handler commits is skipped by the group's next subscriber",
      async () => {
        const name = await topic(1);
        const sent = messagesFor("manual", 6, 1);
        await log.append(name, sent);
        const groupId = uniqueName("group");
        const assigned: { topic: string; partition: number }[][] = [];
        let committed = false;
        const a = new Collector();
        const first = await log.subscribe({
          groupId,
          topics: [name],
          commit: "manual",
          onAssignment: (partitions) => assigned.push(partitions),
          handleBatch: async (batch) => {
            await a.handleBatch(batch);
            // Commit through the third message only, once.
            const third = batch.messages.find((m) => m.value === sent[2]!.value);
            if (third && !committed) {
              committed = true;
              await batch.commit(third.offset);
            }
          },
        });
        await waitFor(() => a.messages.length >= 6, "6 messages");
        await first.close();
        expect(assigned.at(-1)).toEqual([{ topic: name, partition: 0 }]);

        const again = new Collector();
        await subscribe(log, name, again, { groupId });
        await waitFor(() => again.messages.length >= 3, "the 3 uncommitted messages");
        await sleep(QUIET_MS);
        expect(again.values()).toEqual(sent.slice(3).map((m) => m.value));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "ensureTopics is idempotent and leaves an existing topic's partitions as they are",
      async () => {
        const name = uniqueName("contract");
        await log.ensureTopics([{ name, partitions: 1 }]);
        await log.ensureTopics([{ name, partitions: 1 }]);
        await Promise.all([
          log.ensureTopics([{ name, partitions: 4 }]),
          log.ensureTopics([{ name, partitions: 4 }]),
        ]);
        await log.append(name, messagesFor("p", 16, 16));
        const collector = new Collector();
        await subscribe(log, name, collector);
        await waitFor(() => collector.messages.length >= 16, "16 messages");
        expect(new Set(collector.messages.map((m) => m.partition))).toEqual(new Set([0]));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "delivers every appended message with its key, value and headers, in order per key",
      async () => {
        const name = await topic(3);
        const sent: LogMessage[] = Array.from({ length: 40 }, (_, i) => ({
          key: `user-${i % 5}`,
          value: JSON.stringify({ i, text: "héllo ✓" }),
          ...(i % 2 === 0 ? { headers: { seq: String(i), kind: "even" } } : {}),
        }));
        const before = Date.now();
        await log.append(name, sent.slice(0, 25));
        await log.append(name, sent.slice(25));
        const after = Date.now();

        const collector = new Collector();
        await subscribe(log, name, collector);
        await waitFor(() => collector.messages.length >= sent.length, `${sent.length} messages`);
        await sleep(QUIET_MS);
        const got = collector.messages;
        expect(got).toHaveLength(sent.length);

        for (const batch of collector.batches) {
          expect(batch.messages.length).toBeGreaterThan(0);
          for (const m of batch.messages) {
            expect(m.topic).toBe(name);
            expect(m.partition).toBe(batch.partition);
          }
        }
        const byValue = new Map(sent.map((m) => [m.value, m]));
        for (const m of got) {
          const original = byValue.get(m.value);
          expect(original, `unexpected value ${m.value}`).toBeDefined();
          expect(m.key).toBe(original!.key);
          expect(m.headers ?? {}).toEqual(original!.headers ?? {});
          expect(m.timestamp).toBeGreaterThanOrEqual(before - 60_000);
          expect(m.timestamp).toBeLessThanOrEqual(after + 60_000);
          expect(m.offset).toMatch(/^\d+$/);
        }
        for (let k = 0; k < 5; k++) {
          const key = `user-${k}`;
          const received = got.filter((m) => m.key === key);
          expect(received.map((m) => m.value)).toEqual(sent.filter((m) => m.key === key).map((m) => m.value));
          expect(new Set(received.map((m) => m.partition)).size).toBe(1);
        }
        const partitions = new Set(got.map((m) => m.partition));
        for (const partition of partitions) {
          const offsets = got.filter((m) => m.partition === partition).map((m) => BigInt(m.offset));
          for (let i = 1; i < offsets.length; i++) expect(offsets[i]! > offsets[i - 1]!).toBe(true);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "delivers a batch again after its handler rejects, and commits only after success",
      async () => {
        const name = await topic(1);
        await log.append(name, messagesFor("retry", 5));
        const groupId = uniqueName("group");
        const collector = new Collector((_batch, c) => c.failed.length === 0);
        const subscription = await subscribe(log, name, collector, { groupId });
        await waitFor(() => collector.messages.length >= 5, "5 messages after a failed delivery");
        await subscription.close();

        expect(collector.failed).toHaveLength(1);
        const failedValues = collector.failed[0]!.messages.map((m) => m.value);
        expect(failedValues[0]).toBe("retry-0");
        expect(collector.values().slice(0, failedValues.length)).toEqual(failedValues);
        expect(collector.values()).toEqual(messagesFor("retry", 5).map((m) => m.value));

        // The successful delivery was committed: the same group sees only what comes next.
        await log.append(name, [{ key: "retry-key-0", value: "after" }]);
        const next = new Collector();
        await subscribe(log, name, next, { groupId });
        await waitFor(() => next.messages.length >= 1, "the message appended after the commit");
        await sleep(QUIET_MS);
        expect(next.values()).toEqual(["after"]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "resumes a group from its committed offsets; another group gets everything",
      async () => {
        const name = await topic(2);
        const first = messagesFor("first", 10, 4);
        await log.append(name, first);
        const groupId = uniqueName("group");
        const a = new Collector();
        const subscription = await subscribe(log, name, a, { groupId });
        await waitFor(() => a.messages.length >= 10, "10 messages");
        await subscription.close();
        await subscription.close();

        const second = messagesFor("second", 5, 4);
        await log.append(name, second);
        const again = new Collector();
        await subscribe(log, name, again, { groupId });
        await waitFor(() => again.messages.length >= 5, "5 new messages");
        await sleep(QUIET_MS);
        expect(again.values().sort()).toEqual(second.map((m) => m.value).sort());

        const other = new Collector();
        await subscribe(log, name, other, { groupId: uniqueName("group") });
        await waitFor(() => other.messages.length >= 15, "15 messages for a new group");
        await sleep(QUIET_MS);
        expect(other.values().sort()).toEqual([...first, ...second].map((m) => m.value).sort());
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "fromBeginning=false skips what was appended before subscribe",
      async () => {
        const name = await topic(2);
        await log.append(name, messagesFor("old", 6, 3));
        const collector = new Collector();
        await subscribe(log, name, collector, { fromBeginning: false });
        const fresh = messagesFor("new", 4, 3);
        await log.append(name, fresh);
        await waitFor(() => collector.messages.length >= 4, "4 new messages");
        await sleep(QUIET_MS);
        expect(collector.values().sort()).toEqual(fresh.map((m) => m.value).sort());
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "close is idempotent and later appends reject",
      async () => {
        const name = await topic(1);
        await log.append(name, messagesFor("c", 1));
        const subscription = await subscribe(log, name, new Collector());
        await Promise.all([subscription.close(), subscription.close()]);
        await subscription.close();
        await Promise.all([log.close(), log.close()]);
        await log.close();
        await expect(log.append(name, messagesFor("c", 1))).rejects.toBeInstanceOf(EventLogUnavailableError);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "after close and reopen, redelivers to a group that had not committed, not to one that had",
      async (context) => {
        if (!harness.reopen) {
          context.skip();
          return;
        }
        const name = await topic(2);
        const sent = messagesFor("durable", 150, 7);
        await log.append(name, sent.slice(0, 100));
        await log.append(name, sent.slice(100));

        const committedGroup = uniqueName("group");
        const done = new Collector();
        await subscribe(log, name, done, { groupId: committedGroup });
        await waitFor(() => done.messages.length >= sent.length, "all messages for the committing group");

        // Subscribed but never committed: its handler always rejects.
        const failingGroup = uniqueName("group");
        const failing = new Collector(() => true);
        await subscribe(log, name, failing, { groupId: failingGroup });
        await waitFor(() => failing.failed.length >= 1, "a rejected delivery");

        await log.close();
        const reopened = await harness.reopen();
        await reopened.append(name, [{ key: "durable-key-0", value: "marker" }]);

        const resumed = new Collector();
        await subscribe(reopened, name, resumed, { groupId: committedGroup });
        const retried = new Collector();
        await subscribe(reopened, name, retried, { groupId: failingGroup });
        await waitFor(() => resumed.messages.length >= 1, "the marker for the committed group");
        await waitFor(() => retried.messages.length >= sent.length + 1, "everything for the uncommitted group");
        await sleep(QUIET_MS);
        expect(resumed.values()).toEqual(["marker"]);
        expect(retried.values().sort()).toEqual([...sent.map((m) => m.value), "marker"].sort());
      },
      TEST_TIMEOUT_MS,
    );
  });
}
