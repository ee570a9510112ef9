import { describe, expect, it } from "vitest";
import type { IngestedEvent } from "@/lib/events/schema";
import type { UserEventArchive } from "@/lib/ports/user-events";
import { EventArchiver } from "./event-archiver";

/** An in-memory archive that can be told to fail, like the database would. */
class MemoryArchive implements UserEventArchive {
  rows: IngestedEvent[] = [];
  statements = 0;
  /** Fail the next N appends with a connection error. */
  transientFailures = 0;
  /** Events with this user id make an append fail like a NUL in jsonb does (SQLSTATE 22P05). */
  poisonUser = "poison";
  async append(events: readonly IngestedEvent[]) {
    this.statements++;
    if (this.transientFailures > 0) {
      this.transientFailures--;
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    }
    if (events.some((e) => e.userId === this.poisonUser)) {
      throw Object.assign(new Error("Failed query"), { cause: Object.assign(new Error("unsupported Unicode escape sequence"), { code: "22P05" }) });
    }
    for (const e of events) if (!this.rows.some((r) => r.eventId === e.eventId)) this.rows.push(e);
  }
  async recent() {
    return [];
  }
  async purgeBefore() {
    return 0;
  }
  async eraseUser(userId: string) {
    this.rows = this.rows.filter((r) => r.userId !== userId);
  }
}

let seq = 0;
const ev = (userId: string): IngestedEvent => ({
  eventId: `00000000-0000-4000-8000-${String(++seq).padStart(12, "0")}`,
  userId,
  eventType: "clicks",
  timestamp: 1,
  attributes: {},
  receivedAt: 1,
});
const quiet = { warn: () => undefined, info: () => undefined };

describe("EventArchiver", () => {
  it("writes in large batches in the background and flush waits for everything added", async () => {
    const archive = new MemoryArchive();
    const a = new EventArchiver(archive, { maxBatch: 100, lingerMs: 5, log: quiet, onRejected: () => undefined });
    for (let i = 0; i < 25; i++) a.add(Array.from({ length: 10 }, () => ev(`u${i}`)));
    expect(await a.flush(1000)).toBe(true);
    expect(archive.rows).toHaveLength(250);
    expect(archive.statements).toBeLessThanOrEqual(5);
    await a.close();
  });

  it("erases in order: events added before the erasure go with the user, later ones stay", async () => {
    const archive = new MemoryArchive();
    const a = new EventArchiver(archive, { maxBatch: 100, lingerMs: 5, log: quiet, onRejected: () => undefined });
    const before = [ev("erased"), ev("other")];
    const after = ev("erased");
    a.add(before);
    a.erase("erased");
    a.add([after]);
    expect(await a.flush(1000)).toBe(true);
    expect(archive.rows.map((r) => r.eventId).sort()).toEqual([before[1]!.eventId, after.eventId].sort());
    await a.close();
  });

  it("retries transient failures until they pass, and flush reports a timeout meanwhile", async () => {
    const archive = new MemoryArchive();
    archive.transientFailures = 3;
    const warnings: object[] = [];
    const a = new EventArchiver(archive, { lingerMs: 1, log: { warn: (o) => warnings.push(o), info: () => undefined }, onRejected: () => undefined });
    a.add([ev("a"), ev("b")]);
    expect(await a.flush(50)).toBe(false);
    expect(await a.flush(5000)).toBe(true);
    expect(archive.rows).toHaveLength(2);
    expect(warnings).toHaveLength(1); // logged once per outage, not per attempt
    await a.close();
  });

  it("rejects only the events the database refuses, found by halving the batch", async () => {
    const archive = new MemoryArchive();
    const rejected: IngestedEvent[] = [];
    const a = new EventArchiver(archive, { lingerMs: 1, log: quiet, onRejected: (e) => rejected.push(e) });
    const events = Array.from({ length: 64 }, (_, i) => ev(i === 37 ? "poison" : `u${i}`));
    a.add(events);
    expect(await a.flush(1000)).toBe(true);
    expect(rejected).toEqual([events[37]]);
    expect(archive.rows).toHaveLength(63);
    expect(archive.statements).toBeLessThan(20);
    await a.close();
  });

  it("holds consumers back while more than maxBuffered events wait", async () => {
    const archive = new MemoryArchive();
    archive.transientFailures = 1;
    const a = new EventArchiver(archive, { lingerMs: 1, maxBuffered: 5, log: quiet, onRejected: () => undefined });
    a.add(Array.from({ length: 10 }, () => ev("u")));
    let released = false;
    const room = a.room().then(() => (released = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(released).toBe(false);
    await room;
    expect(a.buffered).toBe(0);
    await a.close();
  });
});
