import type { EventLog } from "@/lib/ports/event-log";
import type { OutboxRow, OutboxStore } from "@/lib/ports/outbox";

export interface OutboxRelayOptions {
  store: OutboxStore;
  log: EventLog;
  /** How often to look for rows written by other processes. */
  pollMs?: number;
  batchSize?: number;
  onError?: (error: unknown) => void;
}

export interface OutboxRelay {
  /** Asks for a drain now (called after a local commit). */
  kick(): void;
  /** Resolves once everything committed before the call has been published (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Publishes outbox rows in id order, grouping consecutive rows of one topic into one append. */
async function publishInOrder(log: EventLog, rows: OutboxRow[]) {
  let start = 0;
  while (start < rows.length) {
    const topic = rows[start]!.topic;
    let end = start;
    while (end < rows.length && rows[end]!.topic === topic) end++;
    await log.append(
      topic,
      rows.slice(start, end).map((r) => ({ key: r.key, value: JSON.stringify(r.payload), headers: r.headers })),
    );
    start = end;
  }
}

/**
 * Moves committed changes from the outbox to the event log. At least once: a crash between the
 * append and the commit publishes a row again; consumers treat definition versions idempotently.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const pollMs = options.pollMs ?? 500;
  const batchSize = options.batchSize ?? 500;
  let closed = false;
  let wake: (() => void) | null = null;
  let pending = true;
  let failures = 0;
  const idleWaiters: (() => void)[] = [];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const loop = (async () => {
    while (!closed) {
      pending = false;
      try {
        let n: number;
        do {
          n = await options.store.drain(batchSize, (rows) => publishInOrder(options.log, rows));
        } while (n === batchSize && !closed);
        failures = 0;
        if (!pending) idleWaiters.splice(0).forEach((w) => w());
      } catch (error) {
        failures++;
        pending = true;
        if (!closed) options.onError?.(error);
      }
      if (closed) break;
      if (!pending) await sleep(pollMs);
      else if (failures > 0) await sleep(Math.min(10_000, 100 * 2 ** Math.min(failures, 7)));
    }
    idleWaiters.splice(0).forEach((w) => w());
  })();

  return {
    kick() {
      pending = true;
      wake?.();
    },
    flush() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        pending = true;
        wake?.();
      });
    },
    async close() {
      closed = true;
      wake?.();
      await loop;
    },
  };
}
