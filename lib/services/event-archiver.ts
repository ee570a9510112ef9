/**
 * Archives applied events (the `user_events` lookups and explain read) off the segment
 * processor's critical path: events are buffered and written in large batches by one loop in
 * the background, while memberships are written per consumed batch. The processor waits for
 * the archive only before a checkpoint (`flush`), so a checkpoint never covers an event that is
 * not archived yet; a crash loses nothing, since the replay from the checkpoint archives again
 * (idempotent by event id). An erasure (`erase`) is queued in order with the events: what was
 * added before it is written and then deleted with the user, what is added after it stays.
 *
 * Failures: rows the database refuses for their data (SQLSTATE class 22/23) are isolated by
 * halving the batch and handed to `onRejected` (the processor dead-letters them); anything else
 * is retried with a back-off doubling up to 5 s, logged once per outage. The buffer is bounded:
 * `room()` waits while it holds more than `maxBuffered` events (back-pressure on consumption).
 */
import type { IngestedEvent } from "@/lib/events/schema";
import type { UserEventArchive } from "@/lib/ports/user-events";
import { errorText, isPermanentError } from "@/lib/services/failure";

export interface EventArchiverOptions {
  /** Events per statement. Default 5000. */
  maxBatch?: number;
  /** How long a partial batch may wait for more events. Default 100 ms. */
  lingerMs?: number;
  /** `room()` waits while more than this many events are buffered. Default 200,000. */
  maxBuffered?: number;
  onRejected(event: IngestedEvent, error: unknown): void;
  log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

/** A queued erasure of one user's archived events. */
interface Erase {
  erase: string;
}
type Item = IngestedEvent | Erase;
const isErase = (x: Item): x is Erase => (x as Erase).erase !== undefined;

interface Waiter {
  target: number;
  resolve(): void;
}

export class EventArchiver {
  private buffer: Item[] = [];
  /** Items added / done (written, rejected or erased) so far: `flush` waits for written to reach added. */
  private added = 0;
  private written = 0;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private waiters: Waiter[] = [];
  private roomWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly archive: UserEventArchive,
    private readonly options: EventArchiverOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 5000;
    this.lingerMs = options.lingerMs ?? 100;
    this.maxBuffered = options.maxBuffered ?? 200_000;
  }

  /** Events waiting to be written. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Deletes the user's archived events once everything added before has been written. */
  erase(userId: string): void {
    this.buffer.push({ erase: userId });
    this.added++;
    this.start();
  }

  add(events: readonly IngestedEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) this.buffer.push(e);
    this.added += events.length;
    if (this.buffer.length >= this.maxBatch) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.lingerMs);
  }

  /** Waits until the buffer has room (back-pressure). */
  room(): Promise<void> {
    if (this.buffer.length <= this.maxBuffered) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Writes everything added so far; resolves true once it is archived, false if that takes
   * longer than `timeoutMs` (the database is failing: the caller tries again later).
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.written >= this.added) return Promise.resolve(true);
    const target = this.added;
    this.start();
    return new Promise((resolve) => {
      const waiter: Waiter = { target, resolve: () => resolve(true) };
      this.waiters.push(waiter);
      setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          resolve(false);
        }
      }, timeoutMs).unref();
    });
  }

  /** Writes what is buffered (giving up after `timeoutMs`) and stops. */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const resolve of this.roomWaiters.splice(0)) resolve();
  }

  private start(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.loop || this.closed) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      if (this.buffer.length > 0 && !this.closed) this.timer ??= setTimeout(() => this.start(), this.lingerMs);
    });
  }

  private async run(): Promise<void> {
    while (this.buffer.length > 0 && !this.closed) {
      const head = this.buffer[0]!;
      let batch: Item[];
      if (isErase(head)) batch = [head];
      else {
        let n = 1;
        while (n < this.maxBatch && n < this.buffer.length && !isErase(this.buffer[n]!)) n++;
        batch = this.buffer.slice(0, n);
      }
      try {
        if (isErase(head)) await this.archive.eraseUser(head.erase);
        else await this.write(batch as IngestedEvent[]);
      } catch (error) {
        this.failures++;
        if (this.failures === 1 || this.failures % 50 === 0) {
          this.options.log.warn({ failures: this.failures, buffered: this.buffer.length, error: errorText(error) }, "archiving events failed; retrying with back-off");
        }
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(this.failures, 10), 5_000)));
        continue;
      }
      if (this.failures > 0) this.options.log.info({ failures: this.failures }, "archiving events recovered");
      this.failures = 0;
      this.buffer.splice(0, batch.length);
      this.written += batch.length;
      for (const w of this.waiters.filter((x) => x.target <= this.written)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
      if (this.buffer.length <= this.maxBuffered) for (const resolve of this.roomWaiters.splice(0)) resolve();
    }
  }

  /** One batch; permanent failures narrowed down by halving, the offending events rejected. */
  private async write(events: IngestedEvent[]): Promise<void> {
    try {
      await this.archive.append(events);
    } catch (error) {
      if (!isPermanentError(error)) throw error;
      if (events.length === 1) {
        this.options.onRejected(events[0]!, error);
        return;
      }
      const mid = events.length >> 1;
      await this.write(events.slice(0, mid));
      await this.write(events.slice(mid));
    }
  }
}
