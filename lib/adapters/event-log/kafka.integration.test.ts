import { describe, expect, it } from "vitest";

import { eventLogContract, uniqueName } from "@/lib/adapters/event-log/contract";
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
