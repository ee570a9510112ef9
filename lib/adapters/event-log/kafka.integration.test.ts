import { describe, expect, it } from "vitest";

import { eventLogContract, uniqueName, waitFor } from "@/lib/adapters/event-log/contract";
import { KafkaEventLog, type KafkaEventLogOptions } from "@/lib/adapters/event-log/kafka";
import { EventLogUnavailableError, type EventLog } from "@/lib/ports/event-log";

const brokers = process.env.KAFKA_BROKERS?.split(",").filter(Boolean) ?? [];

/** Tuned for a local single-node broker: quick joins and fetches. */
const fast: Omit<KafkaEventLogOptions, "brokers" | "clientId"> = {
  maxWaitTimeMs: 100,
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  retryDelayMs: 50,
  // Injected handler failures are expected; kafkajs warnings still show.
  log: (level, message, meta) => {
    if (!message.includes("handler rejected")) console[level](message, meta ?? "");
  },
};

if (brokers.length > 0) {
  eventLogContract(`Kafka (${brokers.join(",")})`, async () => {
    const opened: EventLog[] = [];
    const open = () => {
      const log = new KafkaEventLog({ brokers, clientId: uniqueName("contract"), ...fast });
      opened.push(log);
      return log;
    };
    return {
      log: open(),
      reopen: async () => open(),
      cleanup: async () => {
        for (const log of opened) await log.close();
      },
    };
  });
  describe("KafkaEventLog topic prefix", () => {
    it("keeps logs with different prefixes apart and shows consumers the logical names", async () => {
      const topic = uniqueName("prefixed");
      const a = new KafkaEventLog({ brokers, clientId: uniqueName("prefix-a"), topicPrefix: `${uniqueName("a")}.`, ...fast });
      const b = new KafkaEventLog({ brokers, clientId: uniqueName("prefix-b"), topicPrefix: `${uniqueName("b")}.`, ...fast });
      try {
        await a.ensureTopics([{ name: topic, partitions: 1 }]);
        await b.ensureTopics([{ name: topic, partitions: 1 }]);
        const seen: { log: string; topic: string; value: string }[] = [];
        const assigned: string[] = [];
        const subscribe = (log: KafkaEventLog, name: string) =>
          log.subscribe({
            groupId: uniqueName(`group-${name}`),
            topics: [topic],
            onAssignment: (parts) => assigned.push(...parts.map((p) => p.topic)),
            handleBatch: async (batch) => {
              for (const m of batch.messages) seen.push({ log: name, topic: m.topic, value: m.value });
            },
          });
        const subs = [await subscribe(a, "a"), await subscribe(b, "b")];
        await a.append(topic, [{ key: "k", value: "for a" }]);
        await b.append(topic, [{ key: "k", value: "for b" }]);
        await waitFor(() => seen.length >= 2, "both messages");
        await new Promise((r) => setTimeout(r, 500));
        expect(seen.sort((x, y) => x.log.localeCompare(y.log))).toEqual([
          { log: "a", topic, value: "for a" },
          { log: "b", topic, value: "for b" },
        ]);
        expect(assigned).toEqual([topic, topic]);
        for (const sub of subs) await sub.close();
        await a.deleteTopics([topic]);
        await b.deleteTopics([topic]);
      } finally {
        await a.close();
        await b.close();
      }
    }, 60_000);
  });
} else {
  describe.skip("EventLog contract: Kafka — skipped: KAFKA_BROKERS is not set (eval \"$(bash scripts/services.sh up)\" to run it)", () => {
    it("needs a broker", () => undefined);
  });
}

describe("KafkaEventLog without a reachable broker", () => {
  const unreachable = () =>
    new KafkaEventLog({ brokers: ["127.0.0.1:1"], clientId: uniqueName("unreachable"), log: () => undefined });

  it("rejects an append with EventLogUnavailableError within seconds", async () => {
    const log = unreachable();
    const started = Date.now();
    await expect(log.append("user-events", [{ key: "k", value: "v" }])).rejects.toBeInstanceOf(EventLogUnavailableError);
    expect(Date.now() - started).toBeLessThan(10_000);
    await log.close();
  }, 15_000);

  it("rejects ensureTopics and subscribe with EventLogUnavailableError", async () => {
    const log = unreachable();
    await expect(log.ensureTopics([{ name: "user-events", partitions: 1 }])).rejects.toBeInstanceOf(
      EventLogUnavailableError,
    );
    await expect(
      log.subscribe({ groupId: "g", topics: ["user-events"], handleBatch: async () => undefined }),
    ).rejects.toBeInstanceOf(EventLogUnavailableError);
    await log.close();
  }, 30_000);
});
