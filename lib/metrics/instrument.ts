import type { ConsumedBatch, EventLog, SubscribeOptions } from "@/lib/ports/event-log";
import type { SendStore } from "@/lib/ports/sends";
import { metrics } from "@/lib/metrics";

/**
 * Metrics taken at the ports, so the workers' code needs no hooks: the composition root hands
 * the segment processor and the campaign dispatcher instrumented ports.
 */

export interface EventLogInstrumentation {
  /** The `consumer` label (segment-processor, campaign-dispatcher …). */
  consumer: string;
  /**
   * Topics whose messages count toward the evaluation latency (append → handled) once their
   * batch is handled: `user-events` for the segment processor.
   */
  latencyTopics?: readonly string[];
  /**
   * The topic this consumer publishes membership transitions to (`segment-memberships` for the
   * segment processor): each message appended there counts as a transition, by kind and cause.
   * Transitions are published only once written, so the count follows what was recorded,
   * whichever store wrote it.
   */
  transitionsTopic?: string;
}

/**
 * Records consumer lag, batch duration and (for `latencyTopics`) evaluation latency per handled
 * batch, and counts the transitions published to `transitionsTopic`.
 */
export function instrumentEventLog(log: EventLog, options: EventLogInstrumentation): EventLog {
  const m = metrics();
  const latencyTopics = new Set(options.latencyTopics ?? []);
  const lag = (batch: ConsumedBatch, nextUnhandled: bigint) => {
    if (batch.highWatermark === undefined) return;
    const behind = BigInt(batch.highWatermark) - nextUnhandled;
    m.consumerLag.set(
      { consumer: options.consumer, topic: batch.topic, partition: String(batch.partition) },
      Number(behind > 0n ? behind : 0n),
    );
  };
  return {
    ensureTopics: (topics) => log.ensureTopics(topics),
    async append(topic, messages) {
      await log.append(topic, messages);
      if (topic !== options.transitionsTopic) return;
      for (const message of messages) {
        const { kind, cause } = transitionLabels(message.value);
        m.transitions.inc({ kind, cause });
      }
    },
    close: () => log.close(),
    subscribe(subscription: SubscribeOptions) {
      const owned = new Map<string, Set<number>>();
      return log.subscribe({
        ...subscription,
        onAssignment(partitions) {
          // Forget the lag of partitions that moved to another member.
          for (const topic of subscription.topics) {
            const now = new Set(partitions.filter((p) => p.topic === topic).map((p) => p.partition));
            for (const p of owned.get(topic) ?? []) {
              if (!now.has(p)) m.consumerLag.remove({ consumer: options.consumer, topic, partition: String(p) });
            }
            owned.set(topic, now);
          }
          subscription.onAssignment?.(partitions);
        },
        async handleBatch(batch) {
          const first = batch.messages[0];
          if (first) lag(batch, BigInt(first.offset));
          const started = performance.now();
          await subscription.handleBatch(batch);
          m.consumerBatchDuration.observe({ consumer: options.consumer, topic: batch.topic }, (performance.now() - started) / 1000);
          const last = batch.messages.at(-1);
          if (last) lag(batch, BigInt(last.offset) + 1n);
          if (latencyTopics.has(batch.topic)) {
            const handledAt = Date.now();
            for (const message of batch.messages) m.evaluationLatency.observe(Math.max(0, handledAt - message.timestamp) / 1000);
          }
        },
      });
    },
  };
}

const KINDS = new Set(["enter", "exit"]);
const CAUSES = new Set(["event", "time", "definition", "deactivated", "deleted", "erased"]);

/** kind and cause of a published transition; anything unexpected is `other` (bounded labels). */
function transitionLabels(value: string): { kind: string; cause: string } {
  try {
    const parsed = JSON.parse(value) as { kind?: unknown; cause?: unknown };
    return {
      kind: typeof parsed.kind === "string" && KINDS.has(parsed.kind) ? parsed.kind : "other",
      cause: typeof parsed.cause === "string" && CAUSES.has(parsed.cause) ? parsed.cause : "other",
    };
  } catch {
    return { kind: "other", cause: "other" };
  }
}

const SEND_STATUS: Partial<Record<keyof SendStore, string>> = {
  markSent: "sent",
  markFailed: "failed",
  markSkipped: "skipped",
  requeue: "requeued",
};

/** Counts sends entering each status as the dispatcher writes them. */
export function instrumentSends(store: SendStore): SendStore {
  const { sends } = metrics();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (prop === "claim") {
        return async (...args: unknown[]) => {
          const result = (await fn.apply(target, args)) as Awaited<ReturnType<SendStore["claim"]>>;
          if (result.created) sends.inc({ status: "queued" });
          return result;
        };
      }
      if (prop === "markSending") {
        return async (...args: unknown[]) => {
          const won = (await fn.apply(target, args)) as boolean;
          if (won) sends.inc({ status: "sending" });
          return won;
        };
      }
      const status = SEND_STATUS[prop as keyof SendStore];
      if (!status) return fn.bind(target);
      return async (...args: unknown[]) => {
        const result = await fn.apply(target, args);
        // A store that reports "not applied" (false) moved nothing.
        if (result !== false) sends.inc({ status });
        return result;
      };
    },
  });
}
