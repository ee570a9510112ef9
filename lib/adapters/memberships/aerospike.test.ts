import * as Aerospike from "aerospike";
import { describe, expect, it } from "vitest";
import type { MembershipChange } from "@/lib/ports/memberships";
import {
  assertBatchApplied,
  buildBatchRecords,
  createAerospikeMembershipStore,
  hostsFromEnv,
  memberRow,
  pageMembers,
  parseHosts,
  parseSegments,
  planWrites,
  SEGS_BIN,
  segsIndexName,
  UID_BIN,
  type MemberRow,
} from "./aerospike";

// What runs here: the pure parts of the Aerospike adapter and a failed connect. The store itself
// runs against a cluster in aerospike.integration.test.ts (needs AEROSPIKE_HOSTS).

const T = Date.UTC(2026, 10, 24, 12, 0, 0);
const change = (userId: string, segmentId: string, kind: "enter" | "exit", at: number, version = 1): MembershipChange => ({
  userId,
  segmentId,
  kind,
  at,
  cause: kind === "enter" ? "event" : "time",
  version,
});

describe("the aerospike client module", () => {
  it("loads its native binding", () => {
    expect(typeof Aerospike.client).toBe("function");
    expect(Aerospike.indexType.MAPKEYS).toBeTypeOf("number");
    expect(Aerospike.status.ERR_RECORD_NOT_FOUND).toBe(2);
    expect(Aerospike.status.ERR_INDEX_FOUND).toBe(200);
  });
});

describe("planWrites", () => {
  it("keeps the last change per (user, segment) and groups per user in order of first appearance", () => {
    const plan = planWrites([
      change("u1", "a", "enter", T, 3),
      change("u2", "a", "enter", T),
      change("u1", "b", "enter", T + 1),
      change("u1", "a", "exit", T + 2),
      change("u1", "a", "enter", T + 3, 4),
      change("u2", "b", "enter", T + 4),
      change("u2", "b", "exit", T + 5),
    ]);
    expect(plan).toEqual([
      {
        userId: "u1",
        put: [
          { segmentId: "a", entry: [T + 3, 4] },
          { segmentId: "b", entry: [T + 1, 1] },
        ],
        remove: [],
      },
      { userId: "u2", put: [{ segmentId: "a", entry: [T, 1] }], remove: ["b"] },
    ]);
  });

  it("answers nothing for no changes, and exit-only writes for exits", () => {
    expect(planWrites([])).toEqual([]);
    expect(planWrites([change("u", "a", "exit", T), change("u", "b", "exit", T)])).toEqual([
      { userId: "u", put: [], remove: ["a", "b"] },
    ]);
  });
});

describe("buildBatchRecords", () => {
  const target = { namespace: "audience", set: "memberships" };

  it("builds one BATCH_WRITE per user with removeByKey per exit, put per entry and the uid bin", () => {
    const [rec] = buildBatchRecords(
      [{ userId: "u1", put: [{ segmentId: "a", entry: [T, 3] }], remove: ["b"] }],
      target,
    );
    expect(rec!.type).toBe(Aerospike.batchType.BATCH_WRITE);
    expect(rec!.key).toBeInstanceOf(Aerospike.Key);
    expect({ ns: rec!.key.ns, set: rec!.key.set, key: rec!.key.key }).toEqual({ ns: "audience", set: "memberships", key: "u1" });
    expect(rec!.policy).toBeUndefined(); // create or update
    const mapPolicy = new Aerospike.MapPolicy({ order: Aerospike.maps.order.KEY_ORDERED });
    expect(rec!.ops).toEqual([
      Aerospike.maps.removeByKey(SEGS_BIN, "b", Aerospike.maps.returnType.NONE),
      Aerospike.maps.put(SEGS_BIN, "a", [T, 3], mapPolicy),
      Aerospike.operations.write(UID_BIN, "u1"),
    ]);
    // ...and spelled out, so a change of what the helpers answer shows up here.
    const [remove, put, uid] = rec!.ops as unknown as Record<string, unknown>[];
    expect(remove).toMatchObject({ bin: "segs", key: "b", returnType: Aerospike.maps.returnType.NONE });
    expect(put).toMatchObject({ bin: "segs", key: "a", value: [T, 3] });
    expect((put!.policy as { order: number }).order).toBe(Aerospike.maps.order.KEY_ORDERED);
    expect(uid).toMatchObject({ bin: "uid", value: "u1" });
    expect(new Set([remove!.op, put!.op, uid!.op]).size).toBe(3);
  });

  it("makes exit-only writes update-only and leaves out the uid bin", () => {
    const [rec] = buildBatchRecords([{ userId: "u2", put: [], remove: ["a", "b"] }], target);
    expect(rec!.ops).toEqual([
      Aerospike.maps.removeByKey(SEGS_BIN, "a", Aerospike.maps.returnType.NONE),
      Aerospike.maps.removeByKey(SEGS_BIN, "b", Aerospike.maps.returnType.NONE),
    ]);
    expect(rec!.policy).toBeInstanceOf(Aerospike.BatchWritePolicy);
    expect(rec!.policy?.exists).toBe(Aerospike.policy.exists.UPDATE);
  });

  it("keeps the plan's order, one record per user", () => {
    const recs = buildBatchRecords(
      planWrites([change("x", "a", "enter", T), change("y", "a", "exit", T), change("x", "b", "enter", T)]),
      target,
    );
    expect(recs.map((r) => r.key.key)).toEqual(["x", "y"]);
    expect(recs[0]!.ops).toHaveLength(3);
  });
});

describe("assertBatchApplied", () => {
  const enter = { userId: "e", put: [{ segmentId: "a", entry: [T, 1] as [number, number] }], remove: [] };
  const exitOnly = { userId: "x", put: [], remove: ["a"] };
  const OK = Aerospike.status.OK;
  const NOT_FOUND = Aerospike.status.ERR_RECORD_NOT_FOUND;

  it("accepts OK, and not-found for exit-only writes", () => {
    expect(() => assertBatchApplied([enter, exitOnly], [{ status: OK }, { status: NOT_FOUND }])).not.toThrow();
  });

  it("rejects other statuses, not-found for writes that create, and missing results", () => {
    expect(() => assertBatchApplied([enter], [{ status: NOT_FOUND }])).toThrow(/1 of 1 users: e: status 2/);
    expect(() => assertBatchApplied([enter, exitOnly], [{ status: OK }, { status: Aerospike.status.ERR_TIMEOUT, inDoubt: true }])).toThrow(
      /x: status 9 .*in doubt/,
    );
    expect(() => assertBatchApplied([enter, exitOnly], [{ status: OK }])).toThrow(/x: no result/);
  });
});

describe("parseSegments", () => {
  it("orders by enteredAt, then segment id", () => {
    expect(parseSegments({ b: [T, 1], c: [T - 1000, 2], a: [T, 3] })).toEqual([
      { segmentId: "c", enteredAt: new Date(T - 1000), version: 2 },
      { segmentId: "a", enteredAt: new Date(T), version: 3 },
      { segmentId: "b", enteredAt: new Date(T), version: 1 },
    ]);
  });

  it("accepts a Map, skips malformed entries, answers [] for no map", () => {
    expect(parseSegments(new Map<string, unknown>([["a", [T, 1]], ["bad", "x"], ["short", [T]]]))).toEqual([
      { segmentId: "a", enteredAt: new Date(T), version: 1 },
    ]);
    expect(parseSegments(undefined)).toEqual([]);
    expect(parseSegments(null)).toEqual([]);
    expect(parseSegments({})).toEqual([]);
  });
});

describe("memberRow", () => {
  it("reads the user id and the segment's entry time from a query record", () => {
    expect(memberRow({ uid: "u1", segs: { a: [T, 1], b: [T + 5, 2] } }, "b")).toEqual({ userId: "u1", enteredAtMs: T + 5 });
  });

  it("answers null without uid or when the segment is gone", () => {
    expect(memberRow({ segs: { a: [T, 1] } }, "a")).toBeNull();
    expect(memberRow({ uid: "u1", segs: {} }, "a")).toBeNull();
    expect(memberRow({ uid: "u1" }, "a")).toBeNull();
    expect(memberRow(null, "a")).toBeNull();
  });
});

describe("pageMembers", () => {
  const users = Array.from({ length: 25 }, (_, i) => `p-${String(i).padStart(2, "0")}`);
  // Collected in the arbitrary order a query answers, with a duplicate (migrations can repeat one).
  const rows: MemberRow[] = [...users].reverse().map((u, i) => ({ userId: u, enteredAtMs: T + 24 - i }));
  rows.push({ userId: "p-03", enteredAtMs: T + 3 });

  it("pages in user-id order after the cursor", () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = pageMembers(rows, { after, limit: 10 });
      seen.push(...page.members.map((m) => m.userId));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toEqual(users);
  });

  it("answers next = last user of a full page, null at the end", () => {
    const first = pageMembers(rows, { after: "p-", limit: 10 });
    expect(first.members).toHaveLength(10);
    expect(first.members[0]).toEqual({ userId: "p-00", enteredAt: new Date(T) });
    expect(first.next).toBe("p-09");
    const last = pageMembers(rows, { after: "p-19", limit: 10 });
    expect(last.members.map((m) => m.userId)).toEqual(users.slice(20));
    expect(last.next).toBeNull();
    expect(pageMembers(rows, { after: "p-14", limit: 10 }).next).toBeNull(); // exactly one page left
    expect(pageMembers([], { limit: 10 })).toEqual({ members: [], next: null });
  });
});

describe("parseHosts / hostsFromEnv", () => {
  it("parses host:port, bare hosts and bracketed IPv6", () => {
    expect(parseHosts(["10.0.0.1:3100", " db.local ", "[::1]:3001"])).toEqual([
      { addr: "10.0.0.1", port: 3100 },
      { addr: "db.local", port: 3000 },
      { addr: "::1", port: 3001 },
    ]);
    expect(hostsFromEnv("a:1, b:2,,")).toEqual(["a:1", "b:2"]);
    expect(hostsFromEnv(undefined)).toEqual([]);
  });

  it("rejects an empty list or a bad port, naming AEROSPIKE_HOSTS", () => {
    expect(() => parseHosts([])).toThrow(/AEROSPIKE_HOSTS/);
    expect(() => parseHosts(["a:99999"])).toThrow(/invalid host "a:99999".*AEROSPIKE_HOSTS/);
    expect(() => parseHosts(["a:b:c"])).toThrow(/AEROSPIKE_HOSTS/);
  });
});

describe("segsIndexName", () => {
  it("is memberships_segs_keys for the default set, per set otherwise", () => {
    expect(segsIndexName("memberships")).toBe("memberships_segs_keys");
    expect(segsIndexName("t1")).toBe("t1_segs_keys");
  });
});

describe("createAerospikeMembershipStore without a server", () => {
  it("fails fast with an error naming AEROSPIKE_HOSTS", async () => {
    const started = Date.now();
    const error = await createAerospikeMembershipStore({ hosts: ["127.0.0.1:1"], connectTimeoutMs: 1000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Cannot connect to Aerospike at 127\.0\.0\.1:1: .*AEROSPIKE_HOSTS/);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 10_000);
});
