import { refusesData } from "@/lib/errors";

/**
 * Group commit for single-row statements: calls made while a statement is running are queued
 * and executed together, as one statement, when it returns. An idle caller goes at once (no
 * timer, no added latency); under load the statements per row fall with the number of callers.
 * Each caller's promise settles when the statement holding its row has completed (committed,
 * outside a transaction), exactly as if it had run alone.
 *
 * A permanent failure (SQL class 22/23: one row the database refuses) of a group is not
 * everybody's: the group is retried row by row, so only that row's caller sees the error.
 */
export function coalesce<I, O>(runMany: (items: I[]) => Promise<O[]>, options: { maxBatch?: number } = {}): (item: I) => Promise<O> {
  const maxBatch = options.maxBatch ?? 500;
  let queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let running = false;

  async function execute(group: typeof queue): Promise<void> {
    try {
      const out = await runMany(group.map((g) => g.item));
      group.forEach((g, i) => g.resolve(out[i]!));
    } catch (error) {
      if (group.length > 1 && refusesData(error)) {
        for (const g of group) await execute([g]);
      } else {
        for (const g of group) g.reject(error);
      }
    }
  }

  async function drain(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const group = queue.slice(0, maxBatch);
      queue = queue.slice(group.length);
      await execute(group);
    }
    running = false;
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void drain();
    });
}
