import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditLog, apiKeys, outbox } from "@/db/schema";
import { hashApiKey } from "@/lib/services/auth";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import { segmentUpdateMessageSchema } from "@/lib/segments/model";
import { TOPICS } from "@/lib/topics";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { call, expectSeedError } from "@/test/support/http";
import * as collection from "./route";
import * as item from "./[segmentId]/route";
import * as status from "./[segmentId]/status/route";
import * as versions from "./[segmentId]/versions/route";

const cartRule = { eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 };
const orderSum = { eventType: "orders", attribute: "sum", operator: "GT", value: 100, windowMinutes: 1440 };
const MISSING = "00000000-0000-4000-8000-000000000000";


describe.each(engineCases)("segment REST API on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;
  const run = Math.random().toString(36).slice(2, 8);
  const name = (n: string) => `${n} ${run}`;

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  const create = (body: unknown) => call(collection.POST, "POST", { body });

  describe("authentication", () => {
    it("answers 401 without a key, with a malformed header and with a wrong key", async () => {
      const none = await call(collection.GET, "GET", { key: null });
      expect(none.status).toBe(401);
      expectSeedError(none.body, "UNAUTHORIZED", "Authorization");
      const malformed = await call(collection.GET, "GET", { key: null, headers: { authorization: "Basic abc" } });
      expect(malformed.status).toBe(401);
      const wrong = await call(collection.GET, "GET", { key: "not-the-key-at-all" });
      expect(wrong.status).toBe(401);
    });

    it("accepts a stored key by its hash and answers 403 when its scope is short", async () => {
      const key = `am_read_${run}_0123456789`;
      await env.db.db.insert(apiKeys).values({
        name: "reader",
        keyHash: hashApiKey(key),
        prefix: key.slice(0, 8),
        scopes: ["read"],
        createdBy: "test",
      });
      expect((await call(collection.GET, "GET", { key })).status).toBe(200);
      const denied = await call(collection.POST, "POST", { key, body: { name: name("nope"), rules: [cartRule] } });
      expect(denied.status).toBe(403);
      expectSeedError(denied.body, "FORBIDDEN");
    });
  });

  describe("create and read", () => {
    it("creates an independent segment with version 1 and defaults", async () => {
      const res = await create({ type: "INDEPENDENT", name: name("Cart adders"), rules: [cartRule, orderSum] });
      expect(res.status).toBe(201);
      expect(res.headers.get("x-trace-id")).toBeTruthy();
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: name("Cart adders"),
        type: "INDEPENDENT",
        active: true,
        version: 1,
        rules: [
          { ...cartRule, field: null },
          { ...orderSum, field: "value" },
        ],
        logicalExpression: null,
        dependencies: [],
        createdBy: "admin-api-key",
      });
      const got = await call(item.GET, "GET", { params: { segmentId: res.body.id } });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id: res.body.id, version: 1, stats: { currentMembers: 0, entriesLast24h: 0, exitsLast24h: 0 } });
    });

    it("answers 400 VALIDATION_ERROR with the failing field path", async () => {
      const res = await create({ name: name("bad"), rules: [cartRule, { ...cartRule, windowMinutes: 5000 }] });
      expect(res.status).toBe(400);
      expectSeedError(res.body, "VALIDATION_ERROR", "rules[1].windowMinutes");
      expect(res.body.error.details.reason).toMatch(/at most 1440/);
    });

    it("lists every issue when several fields fail", async () => {
      const res = await create({ type: "INDEPENDENT", name: "", rules: [{ ...cartRule, operator: "??" }] });
      expect(res.status).toBe(400);
      expect(res.body.error.details.errors.map((e: { field: string }) => e.field).sort()).toEqual(["name", "rules[0].operator"]);
    });

    it("answers 400 for malformed JSON, 415 for a wrong content type and 413 for an oversized body", async () => {
      const bad = await call(collection.POST, "POST", { rawBody: '{"name": "x", ' });
      expect(bad.status).toBe(400);
      expectSeedError(bad.body, "INVALID_JSON", "body");
      const empty = await call(collection.POST, "POST", { rawBody: "" });
      expect(empty.status).toBe(400);
      const text = await call(collection.POST, "POST", { rawBody: "name=x", headers: { "content-type": "text/plain" } });
      expect(text.status).toBe(415);
      expectSeedError(text.body, "UNSUPPORTED_MEDIA_TYPE");
      const huge = await call(collection.POST, "POST", {
        rawBody: JSON.stringify({ name: "x".repeat(2_000_000), rules: [cartRule] }),
      });
      expect(huge.status).toBe(413);
      expectSeedError(huge.body, "PAYLOAD_TOO_LARGE");
    });

    it("answers 409 for a duplicate name, case-insensitively", async () => {
      expect((await create({ name: name("Unique"), rules: [cartRule] })).status).toBe(201);
      const dup = await create({ name: name("UNIQUE"), rules: [orderSum] });
      expect(dup.status).toBe(409);
      expectSeedError(dup.body, "CONFLICT", "name");
    });

    it("answers 404 for an unknown id and for an id that is not a UUID", async () => {
      const unknown = await call(item.GET, "GET", { params: { segmentId: MISSING } });
      expect(unknown.status).toBe(404);
      expectSeedError(unknown.body, "NOT_FOUND");
      expect((await call(item.GET, "GET", { params: { segmentId: "x' or 1=1 --" } })).status).toBe(404);
      expect((await call(item.PUT, "PUT", { params: { segmentId: MISSING }, body: { name: "n", rules: [cartRule] } })).status).toBe(404);
      expect((await call(status.PATCH, "PATCH", { params: { segmentId: MISSING }, body: { active: false } })).status).toBe(404);
      expect((await call(item.DELETE, "DELETE", { params: { segmentId: MISSING } })).status).toBe(404);
    });
  });

  describe("derived segments", () => {
    let a: string, b: string, c: string;
    beforeAll(async () => {
      a = (await create({ name: name("A"), rules: [cartRule] })).body.id;
      b = (await create({ name: name("B"), rules: [orderSum] })).body.id;
      c = (await create({ name: name("C"), rules: [{ ...cartRule, eventType: "clicks" }] })).body.id;
    });

    it("stores the canonical expression, its tree and its dependencies", async () => {
      const res = await create({ type: "DERIVED", name: name("A and not B"), logicalExpression: `(${a}) and not ${b}` });
      expect(res.status).toBe(201);
      expect(res.body.logicalExpression).toBe(`${a} AND NOT ${b}`);
      expect(res.body.expressionTree).toEqual({
        type: "and",
        operands: [{ type: "segment", id: a }, { type: "not", operand: { type: "segment", id: b } }],
      });
      expect(res.body.dependencies).toEqual([
        { segmentId: res.body.id, dependsOnSegmentId: a },
        { segmentId: res.body.id, dependsOnSegmentId: b },
      ]);
      expect(res.body.rules).toEqual([]);
    });

    it("refuses unknown ids and garbage with the reason at logicalExpression", async () => {
      const unknown = await create({ name: name("dangling"), logicalExpression: `${a} OR ${MISSING}` });
      expect(unknown.status).toBe(400);
      expectSeedError(unknown.body, "VALIDATION_ERROR", "logicalExpression");
      expect(unknown.body.error.details.reason).toContain(MISSING);
      const garbage = await create({ name: name("garbage"), logicalExpression: `${a} AND OR (` });
      expect(garbage.status).toBe(400);
      expect(garbage.body.error.details.reason).toMatch(/position/);
    });

    it("allows derived-of-derived and refuses a cycle", async () => {
      const d1 = (await create({ name: name("D1"), logicalExpression: `${a} OR ${c}` })).body;
      const d2 = (await create({ name: name("D2"), logicalExpression: `${d1.id} AND NOT ${b}` })).body;
      expect(d2.dependencies).toHaveLength(2);
      const cycle = await call(item.PUT, "PUT", {
        params: { segmentId: d1.id },
        body: { name: d1.name, logicalExpression: `${a} OR ${d2.id}` },
      });
      expect(cycle.status).toBe(400);
      expectSeedError(cycle.body, "VALIDATION_ERROR", "logicalExpression");
      expect(cycle.body.error.details.reason).toContain("cycle");
      const self = await call(item.PUT, "PUT", {
        params: { segmentId: d1.id },
        body: { name: d1.name, logicalExpression: `${d1.id} OR ${a}` },
      });
      expect(self.status).toBe(400);
      // Still at version 1: refused changes leave nothing behind.
      expect((await call(item.GET, "GET", { params: { segmentId: d1.id } })).body.version).toBe(1);
    });

    it("refuses deleting a referenced segment with 409 naming the dependents", async () => {
      const d = (await create({ name: name("uses C"), logicalExpression: `NOT ${c}` })).body;
      const res = await call(item.DELETE, "DELETE", { params: { segmentId: c } });
      expect(res.status).toBe(409);
      expectSeedError(res.body, "DEPENDENCY_CONFLICT");
      expect(res.body.error.details.dependents).toEqual(expect.arrayContaining([{ id: d.id, name: d.name }]));
      expect(res.body.error.message).toContain(d.name);
    });
  });

  describe("update, status, delete", () => {
    it("increments the version on every change and keeps the history", async () => {
      const s = (await create({ name: name("Evolving"), rules: [cartRule] })).body;
      const put = await call(item.PUT, "PUT", {
        params: { segmentId: s.id },
        body: { name: name("Evolving v2"), description: "now with orders", rules: [cartRule, orderSum] },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ version: 2, name: name("Evolving v2"), description: "now with orders" });
      expect(put.body.rules).toHaveLength(2);

      const off = await call(status.PATCH, "PATCH", { params: { segmentId: s.id }, body: { active: false } });
      expect(off.body).toMatchObject({ active: false, version: 3 });
      const again = await call(status.PATCH, "PATCH", { params: { segmentId: s.id }, body: { active: false } });
      expect(again.body).toMatchObject({ active: false, version: 3 });
      const bad = await call(status.PATCH, "PATCH", { params: { segmentId: s.id }, body: { active: "no" } });
      expect(bad.status).toBe(400);
      expectSeedError(bad.body, "VALIDATION_ERROR", "active");

      const hist = await call(versions.GET, "GET", { params: { segmentId: s.id } });
      expect(hist.body.data.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
      expect(hist.body.data[2].definition.rules).toHaveLength(1);
    });

    it("deletes: 204, then 404, and the name is free again", async () => {
      const s = (await create({ name: name("Doomed"), rules: [cartRule] })).body;
      expect((await call(item.DELETE, "DELETE", { params: { segmentId: s.id } })).status).toBe(204);
      expect((await call(item.GET, "GET", { params: { segmentId: s.id } })).status).toBe(404);
      expect((await call(item.DELETE, "DELETE", { params: { segmentId: s.id } })).status).toBe(404);
      expect((await create({ name: name("Doomed"), rules: [orderSum] })).status).toBe(201);
    });

    it("writes an audit row with before and after for every mutation", async () => {
      const s = (await create({ name: name("Audited"), rules: [cartRule] })).body;
      await call(item.PUT, "PUT", { params: { segmentId: s.id }, body: { name: name("Audited"), rules: [orderSum] } });
      await call(status.PATCH, "PATCH", { params: { segmentId: s.id }, body: { active: false } });
      await call(item.DELETE, "DELETE", { params: { segmentId: s.id } });
      const rows = await env.db.db.select().from(auditLog).where(eq(auditLog.entityId, s.id)).orderBy(auditLog.id);
      expect(rows.map((r) => r.action)).toEqual(["segment.create", "segment.update", "segment.deactivate", "segment.delete"]);
      expect(rows.every((r) => r.actor === "admin-api-key" && r.traceId)).toBe(true);
      expect(rows[1]!.before).toMatchObject({ rules: [{ eventType: "addToCart" }] });
      expect(rows[1]!.after).toMatchObject({ rules: [{ eventType: "orders" }] });
      expect(rows[3]!.after).toBeNull();
    });
  });

  describe("listing", () => {
    it("pages, filters by type and active, and searches by name", async () => {
      const tag = `list${run}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await create({ name: `${tag} ind ${i}`, rules: [cartRule], active: i % 2 === 0 })).body.id);
      }
      await create({ name: `${tag} derived`, logicalExpression: ids[0] });

      const all = await call(collection.GET, "GET", { query: { search: tag, pageSize: "4" } });
      expect(all.body.pagination).toEqual({ page: 1, pageSize: 4, total: 6, totalPages: 2 });
      expect(all.body.data).toHaveLength(4);
      const page2 = await call(collection.GET, "GET", { query: { search: tag, pageSize: "4", page: "2" } });
      expect(page2.body.data).toHaveLength(2);
      const seen = new Set([...all.body.data, ...page2.body.data].map((s: { id: string }) => s.id));
      expect(seen.size).toBe(6);

      const derived = await call(collection.GET, "GET", { query: { search: tag, type: "DERIVED" } });
      expect(derived.body.data.map((s: { name: string }) => s.name)).toEqual([`${tag} derived`]);
      const inactive = await call(collection.GET, "GET", { query: { search: tag, active: "false" } });
      expect(inactive.body.pagination.total).toBe(2);
      const upper = await call(collection.GET, "GET", { query: { search: tag.toUpperCase() + " IND 3" } });
      expect(upper.body.data.map((s: { id: string }) => s.id)).toEqual([ids[3]]);
      const wildcard = await call(collection.GET, "GET", { query: { search: "%" } });
      expect(wildcard.body.data).toEqual([]);

      const bad = await call(collection.GET, "GET", { query: { pageSize: "0" } });
      expect(bad.status).toBe(400);
      expectSeedError(bad.body, "VALIDATION_ERROR", "pageSize");
    });
  });

  describe("change events", () => {
    it("publishes created, updated, status and deleted to segment-updates after commit", async () => {
      // Subscribed first, from the end: on a long-lived broker the topic holds earlier runs' changes.
      const everything: { key: string; value: string }[] = [];
      const sub = await env.log.subscribe({
        groupId: `test-${run}-${Math.random().toString(36).slice(2)}`,
        topics: [TOPICS.segmentUpdates],
        fromBeginning: false,
        handleBatch: async (batch) => {
          for (const m of batch.messages) everything.push({ key: m.key, value: m.value });
        },
      });
      const s = (await create({ name: name("Published"), rules: [cartRule] })).body;
      const mine = () => everything.filter((m) => m.key === s.id).map((m) => segmentUpdateMessageSchema.parse(JSON.parse(m.value)));
      const all = (async () => {
        while (mine().length < 4) await new Promise((r) => setTimeout(r, 20));
      })();
      await call(item.PUT, "PUT", { params: { segmentId: s.id }, body: { name: name("Published"), rules: [orderSum] } });
      await call(status.PATCH, "PATCH", { params: { segmentId: s.id }, body: { active: false } });
      await call(item.DELETE, "DELETE", { params: { segmentId: s.id } });
      await env.rt.relay.flush();

      const pending = await env.db.db.select().from(outbox).where(eq(outbox.key, s.id));
      expect(pending.every((r) => r.publishedAt !== null)).toBe(true);
      await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 20_000))]);
      await sub.close();
      const received = mine();
      expect(received.map((m) => [m.kind, m.version])).toEqual([
        ["created", 1],
        ["updated", 2],
        ["status", 3],
        ["deleted", 4],
      ]);
      expect(received[1]!.definition.rules[0]).toMatchObject({ eventType: "orders", field: "value" });
    }, 40_000);
  });
});
