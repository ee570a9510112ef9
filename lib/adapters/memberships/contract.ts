import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MembershipChange, MembershipHistory, MembershipStore } from "@/lib/ports/memberships";

export interface MembershipFixture {
  store: MembershipStore;
  /** Segment ids that exist (stores with foreign keys need real segments). */
  segmentIds: string[];
  cleanup(): Promise<void>;
}

const T = Date.UTC(2026, 10, 24, 12, 0, 0);
const uid = (n: string) => `${n}-${Math.random().toString(36).slice(2, 10)}`;

const change = (userId: string, segmentId: string, kind: "enter" | "exit", at: number, version = 1): MembershipChange => ({
  userId,
  segmentId,
  kind,
  at,
  cause: kind === "enter" ? "event" : "time",
  version,
});

/** The contract every MembershipStore adapter passes (PostgreSQL, PGlite, Aerospike). */
export function membershipStoreContract(name: string, make: () => Promise<MembershipFixture>) {
  describe(`MembershipStore contract: ${name}`, () => {
    let f: MembershipFixture;
    let a: string, b: string;
    beforeAll(async () => {
      f = await make();
      [a, b] = f.segmentIds as [string, string];
    });
    afterAll(async () => f?.cleanup());

    it("answers an empty list for an unknown user", async () => {
      expect(await f.store.segmentsOf(uid("nobody"))).toEqual([]);
    });

    it("applies entries and exits", async () => {
      const u = uid("u");
      await f.store.apply([change(u, a, "enter", T, 3), change(u, b, "enter", T + 1000)]);
      expect(await f.store.segmentsOf(u)).toEqual([
        { segmentId: a, enteredAt: new Date(T), version: 3 },
        { segmentId: b, enteredAt: new Date(T + 1000), version: 1 },
      ]);
      await f.store.apply([change(u, a, "exit", T + 2000)]);
      expect((await f.store.segmentsOf(u)).map((m) => m.segmentId)).toEqual([b]);
    });

    it("keeps the last change of a pair within one batch", async () => {
      const u = uid("u");
      await f.store.apply([change(u, a, "enter", T), change(u, a, "exit", T + 1000), change(u, a, "enter", T + 2000)]);
      expect(await f.store.segmentsOf(u)).toEqual([{ segmentId: a, enteredAt: new Date(T + 2000), version: 1 }]);
      await f.store.apply([change(u, b, "enter", T), change(u, b, "exit", T + 1000)]);
      expect((await f.store.segmentsOf(u)).map((m) => m.segmentId)).toEqual([a]);
    });

    it("is idempotent: a redelivered batch, or a replayed suffix in order, converges", async () => {
      const u = uid("u");
      const batch1 = [change(u, a, "enter", T)];
      const batch2 = [change(u, a, "exit", T + 1000), change(u, b, "enter", T + 1000)];
      await f.store.apply(batch1);
      await f.store.apply(batch2);
      await f.store.apply(batch2);
      await f.store.apply(batch1);
      await f.store.apply(batch2);
      expect(await f.store.segmentsOf(u)).toEqual([{ segmentId: b, enteredAt: new Date(T + 1000), version: 1 }]);
      await f.store.apply([change(u, a, "exit", T + 5000)]); // exit of a non-member: no-op
      expect((await f.store.segmentsOf(u)).map((m) => m.segmentId)).toEqual([b]);
    });

    it("pages through a segment's members in user-id order and counts them", async () => {
      const prefix = uid("page");
      const users = Array.from({ length: 25 }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`);
      await f.store.apply(users.map((u, i) => change(u, b, "enter", T + i)));
      const before = await f.store.countMembers(b);
      expect(before).toBeGreaterThanOrEqual(25);
      const seen: string[] = [];
      let after: string | undefined = `${prefix}-`;
      for (let guard = 0; guard < 10; guard++) {
        const page = await f.store.members(b, { after, limit: 10 });
        seen.push(...page.members.map((m) => m.userId));
        if (!page.next || !page.next.startsWith(prefix)) break;
        after = page.next;
      }
      const mine = seen.filter((s) => s.startsWith(prefix));
      expect(mine).toEqual(users);
      const first = await f.store.members(b, { after: `${prefix}-`, limit: 10 });
      expect(first.members).toHaveLength(10);
      expect(first.members[0]).toEqual({ userId: users[0], enteredAt: new Date(T) });
      expect(first.next).toBe(users[9]);
      await f.store.apply(users.slice(0, 5).map((u) => change(u, b, "exit", T + 100)));
      expect(await f.store.countMembers(b)).toBe(before - 5);
      // A search by user-id prefix pages the same way.
      const found = await f.store.members(b, { prefix: `${prefix}-1`, limit: 4 });
      expect(found.members.map((m) => m.userId)).toEqual(users.slice(10, 14));
      expect(found.next).toBe(users[13]);
      const rest = await f.store.members(b, { prefix: `${prefix}-1`, after: found.next!, limit: 10 });
      expect(rest.members.map((m) => m.userId)).toEqual(users.slice(14, 20));
      expect(rest.next).toBeNull();
    });

    it("erases a user", async () => {
      const u = uid("gone");
      await f.store.apply([change(u, a, "enter", T), change(u, b, "enter", T)]);
      await f.store.eraseUser(u);
      expect(await f.store.segmentsOf(u)).toEqual([]);
    });
  });
}

export interface HistoryFixture {
  history: MembershipHistory;
  segmentIds: string[];
  cleanup(): Promise<void>;
}

export function membershipHistoryContract(name: string, make: () => Promise<HistoryFixture>) {
  describe(`MembershipHistory contract: ${name}`, () => {
    let f: HistoryFixture;
    let a: string, b: string;
    beforeAll(async () => {
      f = await make();
      [a, b] = f.segmentIds as [string, string];
    });
    afterAll(async () => f?.cleanup());

    it("records entries and exits, newest first, pairing each exit with its entry", async () => {
      const u = uid("h");
      await f.history.record([
        change(u, a, "enter", T),
        change(u, a, "exit", T + 1000),
        change(u, a, "enter", T + 2000),
        change(u, a, "exit", T + 3000),
        change(u, b, "enter", T + 2500, 2),
      ]);
      const { entries, next } = await f.history.ofUser(u, { limit: 10 });
      expect(next).toBeNull();
      expect(entries).toEqual([
        { segmentId: b, enteredAt: new Date(T + 2500), exitedAt: null, enterCause: "event", exitCause: null, definitionVersion: 2 },
        { segmentId: a, enteredAt: new Date(T + 2000), exitedAt: new Date(T + 3000), enterCause: "event", exitCause: "time", definitionVersion: 1 },
        { segmentId: a, enteredAt: new Date(T), exitedAt: new Date(T + 1000), enterCause: "event", exitCause: "time", definitionVersion: 1 },
      ]);
    });

    it("is idempotent under redelivery", async () => {
      const u = uid("h");
      const b1 = [change(u, a, "enter", T)];
      const b2 = [change(u, a, "exit", T + 1000), change(u, a, "enter", T + 2000)];
      await f.history.record(b1);
      await f.history.record(b2);
      await f.history.record(b1);
      await f.history.record(b2);
      const { entries } = await f.history.ofUser(u, { limit: 10 });
      expect(entries.map((e) => [e.enteredAt.getTime() - T, e.exitedAt ? e.exitedAt.getTime() - T : null])).toEqual([
        [2000, null],
        [0, 1000],
      ]);
    });

    it("pages with a cursor and erases", async () => {
      const u = uid("h");
      await f.history.record(Array.from({ length: 7 }, (_, i) => change(u, i % 2 ? a : b, "enter", T + i * 1000)));
      const p1 = await f.history.ofUser(u, { limit: 3 });
      const p2 = await f.history.ofUser(u, { limit: 3, before: p1.next! });
      const p3 = await f.history.ofUser(u, { limit: 3, before: p2.next! });
      const times = [...p1.entries, ...p2.entries, ...p3.entries].map((e) => (e.enteredAt.getTime() - T) / 1000);
      expect(times).toEqual([6, 5, 4, 3, 2, 1, 0]);
      expect(p3.next).toBeNull();
      await f.history.eraseUser(u);
      expect((await f.history.ofUser(u, { limit: 3 })).entries).toEqual([]);
    });
  });
}
