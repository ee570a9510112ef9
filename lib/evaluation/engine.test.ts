import { describe, expect, it } from "vitest";
import type { Rule } from "@/lib/segments/definition";
import { parseExpression } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import { Definitions, PartitionEngine, type EngineEvent, type Transition } from "./engine";
import { compileRuleSet } from "./ruleset";

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const S = 1000;
const M = 60 * S;
const H = 60 * M;

function independent(id: string, rules: Partial<Rule>[], extra: Partial<SegmentDefinition> = {}): SegmentDefinition {
  return {
    id,
    name: id,
    description: null,
    type: "INDEPENDENT",
    active: true,
    version: 1,
    rules: rules.map((r) => ({
      eventType: "addToCart",
      attribute: "count",
      field: r.attribute === "sum" ? (r.field ?? "value") : null,
      operator: "GTE",
      value: 1,
      windowMinutes: 60,
      ...r,
    })) as Rule[],
    logicalExpression: null,
    expressionTree: null,
    dependencies: [],
    ...extra,
  };
}

function derived(id: string, expression: string, extra: Partial<SegmentDefinition> = {}): SegmentDefinition {
  const tree = parseExpression(expression);
  return {
    id,
    name: id,
    description: null,
    type: "DERIVED",
    active: true,
    version: 1,
    rules: [],
    logicalExpression: expression,
    expressionTree: tree,
    dependencies: [],
    ...extra,
  };
}

class Harness {
  definitions: Definitions;
  engine: PartitionEngine;
  log: Transition[] = [];
  defs = new Map<string, SegmentDefinition>();

  constructor(defs: SegmentDefinition[]) {
    for (const d of defs) this.defs.set(d.id, d);
    this.definitions = new Definitions(compileRuleSet({ definitions: this.defs.values() }));
    this.engine = new PartitionEngine(this.definitions);
  }

  event(userId: string, eventType: EngineEvent["eventType"], at: number, attributes: Record<string, unknown> = {}, now = at) {
    const out = this.engine.applyEvent({ userId, eventType, timestamp: at, attributes }, now);
    this.log.push(...out);
    return out;
  }

  advance(now: number) {
    const out = this.engine.advance(now);
    this.log.push(...out);
    return out;
  }

  /** Advances second by second, like a timer would, and returns what happened. */
  runUntil(from: number, to: number) {
    const out: Transition[] = [];
    for (let t = from; t <= to; t += S) out.push(...this.advance(t));
    return out;
  }

  change(def: SegmentDefinition, cause: "definition" | "deactivated" | "deleted" = "definition") {
    this.defs.set(def.id, def);
    const next = compileRuleSet({ definitions: this.defs.values(), previous: this.definitions.ruleSet });
    this.definitions.install(next, [{ slot: next.segments.get(def.id)!.slot, cause }]);
  }

  segments(userId: string) {
    return this.engine.segmentsOf(userId).sort();
  }
}

const brief = (ts: Transition[]) => ts.map((t) => `${t.kind} ${t.segmentId} ${t.cause}`);

describe("count rules", () => {
  it("enters on the third addToCart within 60 minutes, not before", () => {
    const h = new Harness([independent("cart3", [{ operator: "GTE", value: 3 }])]);
    expect(h.event("u", "addToCart", T0)).toEqual([]);
    expect(h.event("u", "addToCart", T0 + 10 * M)).toEqual([]);
    expect(brief(h.event("u", "addToCart", T0 + 20 * M))).toEqual(["enter cart3 event"]);
    expect(h.segments("u")).toEqual(["cart3"]);
  });

  it("exits exactly when the third-newest event ages out, with no new event", () => {
    const h = new Harness([independent("cart3", [{ operator: "GTE", value: 3 }])]);
    h.event("u", "addToCart", T0);
    h.event("u", "addToCart", T0 + 10 * M);
    h.event("u", "addToCart", T0 + 20 * M);
    // The first event leaves the 60-minute window (now − 60 min, now] at T0 + 60 min.
    expect(h.runUntil(T0 + 20 * M, T0 + 60 * M - S)).toEqual([]);
    const out = h.advance(T0 + 60 * M);
    expect(brief(out)).toEqual(["exit cart3 time"]);
    expect(out[0]!.at).toBe(T0 + 60 * M);
    expect(h.engine.nextDueMs()).toBe(Infinity);
  });

  it("counts events of other users and types separately", () => {
    const h = new Harness([independent("c2", [{ operator: "GTE", value: 2 }])]);
    h.event("a", "addToCart", T0);
    h.event("b", "addToCart", T0 + S);
    h.event("a", "clicks", T0 + 2 * S);
    expect(h.segments("a")).toEqual([]);
    h.event("a", "addToCart", T0 + 3 * S);
    expect(h.segments("a")).toEqual(["c2"]);
    expect(h.segments("b")).toEqual([]);
  });

  it.each([
    ["GT", 2, [false, false, true]],
    ["GTE", 2, [false, true, true]],
    ["EQ", 2, [false, true, false]],
    ["NEQ", 2, [true, false, true]],
    ["LT", 2, [true, false, false]],
    ["LTE", 2, [true, true, false]],
  ] as const)("%s %d after 1, 2, 3 events", (operator, value, expected) => {
    const h = new Harness([independent("s", [{ operator, value }])]);
    const seen = [1, 2, 3].map((i) => {
      h.event("u", "addToCart", T0 + i * S);
      return h.segments("u").includes("s");
    });
    expect(seen).toEqual(expected);
  });
});

describe("zero-event rules and population", () => {
  it("a new user enters '< 1 orders in 60 min' at once, and a first order keeps them out", () => {
    const h = new Harness([independent("no-orders", [{ eventType: "orders", operator: "LT", value: 1 }])]);
    expect(brief(h.event("quiet", "clicks", T0))).toEqual(["enter no-orders event"]);
    // The first event is an order: the zero-event entry and the exit cancel out.
    expect(h.event("buyer", "orders", T0)).toEqual([]);
    expect(h.segments("buyer")).toEqual([]);
  });

  it("enters '< 1 orders in 60 min' when the last order ages out", () => {
    const h = new Harness([independent("no-orders", [{ eventType: "orders", operator: "LT", value: 1 }])]);
    h.event("u", "orders", T0);
    h.event("u", "orders", T0 + 5 * M);
    expect(h.runUntil(T0 + 5 * M, T0 + 65 * M - S)).toEqual([]);
    expect(brief(h.advance(T0 + 65 * M))).toEqual(["enter no-orders time"]);
  });

  it("a touched user with no events is in the zero-event segments", () => {
    const h = new Harness([
      independent("no-orders", [{ eventType: "orders", operator: "LT", value: 1 }]),
      independent("some-orders", [{ eventType: "orders", operator: "GTE", value: 1 }]),
    ]);
    expect(brief(h.engine.touchUser("profile-only", T0))).toEqual(["enter no-orders event"]);
  });
});

describe("sum rules", () => {
  it("sums the default 'value' field; a missing or non-numeric field counts 0", () => {
    const h = new Harness([independent("big", [{ eventType: "orders", attribute: "sum", operator: "GT", value: 100, windowMinutes: 1440 }])]);
    h.event("u", "orders", T0, { value: 60 });
    h.event("u", "orders", T0 + M, { value: "not a number" });
    h.event("u", "orders", T0 + 2 * M, {});
    expect(h.segments("u")).toEqual([]);
    expect(brief(h.event("u", "orders", T0 + 3 * M, { value: "40.5" }))).toEqual(["enter big event"]);
  });

  it("sums a named field, including a nested one", () => {
    const h = new Harness([
      independent("amount", [{ eventType: "orders", attribute: "sum", field: "amount", operator: "GTE", value: 10 }]),
      independent("nested", [{ eventType: "orders", attribute: "sum", field: "cart.total", operator: "GTE", value: 10 }]),
    ]);
    h.event("u", "orders", T0, { amount: 4, value: 100, cart: { total: 9 } });
    expect(h.segments("u")).toEqual([]);
    h.event("u", "orders", T0 + S, { amount: 6, cart: { total: 1 } });
    expect(h.segments("u")).toEqual(["amount", "nested"]);
  });

  it("exits a 24 h sum when enough value ages out, to the minute", () => {
    const h = new Harness([independent("big", [{ eventType: "orders", attribute: "sum", operator: "GT", value: 100, windowMinutes: 1440 }])]);
    h.event("u", "orders", T0 + 30 * S, { value: 80 });
    h.event("u", "orders", T0 + 2 * H, { value: 30 });
    expect(h.segments("u")).toEqual(["big"]);
    // The first order (minute 12:00) leaves the 1440-minute window within a minute of T0 + 24 h.
    expect(h.advance(T0 + 24 * H - M)).toEqual([]);
    const out = h.advance(T0 + 24 * H + M);
    expect(brief(out)).toEqual(["exit big time"]);
    expect(h.engine.nextDueMs()).toBeGreaterThan(T0 + 24 * H);
  });
});

describe("window edges", () => {
  it("is exact to the second for a 5-minute window", () => {
    const h = new Harness([independent("w5", [{ operator: "GTE", value: 2, windowMinutes: 5 }])]);
    h.event("u", "addToCart", T0);
    h.event("u", "addToCart", T0 + 4 * M + 59 * S);
    expect(h.segments("u")).toEqual(["w5"]);
    expect(h.advance(T0 + 5 * M - S)).toEqual([]);
    expect(brief(h.advance(T0 + 5 * M))).toEqual(["exit w5 time"]);
  });

  it("an event exactly one window old is outside (now − W, now]", () => {
    const h = new Harness([independent("w5", [{ operator: "GTE", value: 2, windowMinutes: 5 }])]);
    h.event("u", "addToCart", T0, {}, T0 + 5 * M);
    expect(h.event("u", "addToCart", T0 + 5 * M)).toEqual([]);
    expect(h.event("u", "addToCart", T0 + 5 * M + S).map((t) => t.kind)).toEqual(["enter"]);
  });

  it("keeps 60-minute windows exact after second buckets would be compacted", () => {
    const h = new Harness([
      independent("w60", [{ operator: "GTE", value: 2, windowMinutes: 60 }]),
      independent("w120", [{ operator: "GTE", value: 3, windowMinutes: 120 }]),
    ]);
    h.event("u", "addToCart", T0 + 17 * S);
    h.event("u", "addToCart", T0 + 59 * M);
    h.event("u", "addToCart", T0 + 61 * M);
    expect(h.segments("u")).toEqual(["w120", "w60"]);
    // w60 loses the 12:59 event at 13:59:00 exactly.
    expect(brief(h.runUntil(T0 + 61 * M, T0 + 119 * M))).toEqual(["exit w60 time"]);
    // w120 loses the 12:00:17 event within one minute of 14:00:17.
    const out = h.runUntil(T0 + 119 * M + S, T0 + 121 * M + 17 * S);
    expect(brief(out)).toEqual(["exit w120 time"]);
    expect(Math.abs(out[0]!.at - (T0 + 120 * M + 17 * S))).toBeLessThanOrEqual(M);
  });
});

describe("late and future events", () => {
  it("applies a late event inside the horizon to the windows it falls in", () => {
    const h = new Harness([
      independent("w10", [{ operator: "GTE", value: 2, windowMinutes: 10 }]),
      independent("w1440", [{ operator: "GTE", value: 2, windowMinutes: 1440 }]),
    ]);
    const now = T0 + 5 * H;
    h.event("u", "addToCart", now, {}, now);
    // Arrives now, happened 3 hours ago: inside 24 h, outside 10 minutes.
    expect(brief(h.event("u", "addToCart", now - 3 * H, {}, now))).toEqual(["enter w1440 event"]);
    expect(h.segments("u")).toEqual(["w1440"]);
  });

  it("drops events older than 24 hours and counts them", () => {
    const h = new Harness([independent("any", [{ operator: "GTE", value: 1, windowMinutes: 1440 }])]);
    expect(h.event("u", "addToCart", T0 - 24 * H - S, {}, T0)).toEqual([]);
    expect(h.engine.stats.eventsDroppedLate).toBe(1);
    expect(h.segments("u")).toEqual([]);
  });

  it("counts an event stamped in the near future once its time comes", () => {
    const h = new Harness([independent("any", [{ operator: "GTE", value: 1, windowMinutes: 5 }])]);
    expect(h.event("u", "addToCart", T0 + 2 * M, {}, T0)).toEqual([]);
    expect(h.advance(T0 + 2 * M - S)).toEqual([]);
    expect(brief(h.advance(T0 + 2 * M))).toEqual(["enter any time"]);
  });

  it("gives the same memberships whatever the arrival order", () => {
    const defs = [
      independent("c3", [{ operator: "GTE", value: 3, windowMinutes: 30 }]),
      independent("s", [{ eventType: "orders", attribute: "sum", operator: "GTE", value: 50, windowMinutes: 120 }]),
    ];
    const events: [string, EngineEvent["eventType"], number, number][] = [
      ["u", "addToCart", T0, 0],
      ["u", "orders", T0 + M, 20],
      ["u", "addToCart", T0 + 5 * M, 0],
      ["u", "orders", T0 + 7 * M, 30],
      ["u", "addToCart", T0 + 9 * M, 0],
    ];
    const now = T0 + 10 * M;
    const inOrder = new Harness(defs);
    for (const [u, t, at, v] of events) inOrder.event(u, t, at, { value: v }, now);
    const reversed = new Harness(defs);
    for (const [u, t, at, v] of [...events].reverse()) reversed.event(u, t, at, { value: v }, now);
    expect(reversed.segments("u")).toEqual(inOrder.segments("u"));
    expect(inOrder.segments("u")).toEqual(["c3", "s"]);
  });
});

describe("AND of rules", () => {
  it("needs every rule, across event types", () => {
    const h = new Harness([
      independent("both", [
        { eventType: "addToCart", operator: "GTE", value: 2 },
        { eventType: "orders", operator: "LT", value: 1 },
      ]),
    ]);
    h.event("u", "addToCart", T0);
    expect(brief(h.event("u", "addToCart", T0 + S))).toEqual(["enter both event"]);
    expect(brief(h.event("u", "orders", T0 + 2 * S))).toEqual(["exit both event"]);
  });
});

describe("derived segments", () => {
  const base = () => [
    independent("A", [{ operator: "GTE", value: 1 }]),
    independent("B", [{ eventType: "orders", operator: "GTE", value: 1 }]),
  ];

  it("AND, OR and NOT follow their dependencies in the same step", () => {
    const h = new Harness([
      ...base(),
      derived("AandB", "A AND B"),
      derived("AorB", "A OR B"),
      derived("AnotB", "A AND NOT B"),
    ]);
    expect(brief(h.event("u", "addToCart", T0)).sort()).toEqual(["enter A event", "enter AnotB event", "enter AorB event"]);
    expect(brief(h.event("u", "orders", T0 + S)).sort()).toEqual(["enter AandB event", "enter B event", "exit AnotB event"]);
  });

  it("evaluates derived-of-derived in dependency order", () => {
    const h = new Harness([...base(), derived("D2", "D1 AND NOT B"), derived("D1", "A OR B")]);
    const out = brief(h.event("u", "addToCart", T0));
    expect(out).toEqual(["enter A event", "enter D1 event", "enter D2 event"]);
    expect(brief(h.event("u", "orders", T0 + S))).toEqual(["enter B event", "exit D2 event"]);
  });

  it("NOT of a zero-event segment holds for users with no events of that kind", () => {
    const h = new Harness([...base(), derived("notB", "NOT B")]);
    expect(brief(h.event("u", "clicks", T0))).toEqual(["enter notB event"]);
  });

  it("follows time-driven exits", () => {
    const h = new Harness([...base(), derived("D", "A AND NOT B")]);
    h.event("u", "addToCart", T0);
    expect(h.segments("u")).toEqual(["A", "D"]);
    expect(brief(h.advance(T0 + H))).toEqual(["exit A time", "exit D time"]);
  });
});

describe("definition changes", () => {
  it("a new segment is evaluated for known users from retained state, without replay", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }])]);
    for (let i = 0; i < 5; i++) h.event("u", "orders", T0 + i * M, { value: 10 });
    h.event("v", "orders", T0, { value: 10 });
    h.change(independent("rich", [{ eventType: "orders", attribute: "sum", operator: "GTE", value: 40, windowMinutes: 1440 }]));
    expect(h.engine.staleUsers()).toBe(2);
    const { transitions, remaining } = h.engine.refresh(10, T0 + 10 * M);
    expect(remaining).toBe(0);
    expect(brief(transitions)).toEqual(["enter rich definition"]);
    expect(transitions[0]!.userId).toBe("u");
  });

  it("an edited segment re-evaluates with its new version; time then follows the new rule", () => {
    const h = new Harness([independent("S", [{ operator: "GTE", value: 3 }])]);
    h.event("u", "addToCart", T0);
    h.event("u", "addToCart", T0 + M);
    expect(h.segments("u")).toEqual([]);
    h.change(independent("S", [{ operator: "GTE", value: 2, windowMinutes: 10 }], { version: 2 }));
    const { transitions } = h.engine.refresh(10, T0 + 2 * M);
    expect(transitions).toMatchObject([{ kind: "enter", segmentId: "S", cause: "definition", version: 2 }]);
    // The new 10-minute window drops the first event at T0 + 10 min.
    expect(brief(h.advance(T0 + 10 * M))).toEqual(["exit S time"]);
  });

  it("a user touched before the backfill reaches them is brought up to date first", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }])]);
    h.event("u", "addToCart", T0);
    h.change(independent("B", [{ operator: "GTE", value: 2 }]));
    expect(brief(h.event("u", "addToCart", T0 + S))).toEqual(["enter B event"]);
    expect(h.engine.staleUsers()).toBe(0);
  });

  it("deactivation exits members with cause deactivated and stops evaluation", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }]), derived("D", "A")]);
    h.event("u", "addToCart", T0);
    h.change(independent("A", [{ operator: "GTE", value: 1 }], { active: false, version: 2 }), "deactivated");
    const { transitions } = h.engine.refresh(10, T0 + S);
    expect(brief(transitions)).toEqual(["exit A deactivated", "exit D definition"]);
    expect(h.event("u", "addToCart", T0 + 2 * S)).toEqual([]);
    expect(h.engine.nextDueMs()).toBe(Infinity);
  });

  it("re-activation evaluates everyone again", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }], { active: false })]);
    h.event("u", "addToCart", T0);
    expect(h.segments("u")).toEqual([]);
    h.change(independent("A", [{ operator: "GTE", value: 1 }], { active: true, version: 2 }));
    expect(brief(h.engine.refresh(10, T0 + S).transitions)).toEqual(["enter A definition"]);
  });

  it("refreshes in bounded steps and reports what remains", () => {
    const h = new Harness([]);
    for (let i = 0; i < 25; i++) h.event(`u${i}`, "clicks", T0);
    h.change(independent("clickers", [{ eventType: "clicks", operator: "GTE", value: 1 }]));
    expect(h.engine.refresh(10, T0 + S).remaining).toBe(15);
    expect(h.engine.refresh(10, T0 + S).remaining).toBe(5);
    const last = h.engine.refresh(10, T0 + S);
    expect(last.remaining).toBe(0);
    expect(h.log.length + last.transitions.length).toBeGreaterThanOrEqual(5);
    expect([...h.engine.users.keys()].filter((u) => h.segments(u).includes("clickers"))).toHaveLength(25);
  });
});

describe("erasure and checkpoints", () => {
  it("erasing a user exits every membership and forgets their state", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }])]);
    h.event("u", "addToCart", T0);
    expect(brief(h.engine.eraseUser("u", T0 + S))).toEqual(["exit A erased"]);
    expect(h.engine.users.has("u")).toBe(false);
    expect(h.engine.nextDueMs()).toBe(Infinity);
    expect(h.advance(T0 + 2 * H)).toEqual([]);
  });

  it("an erased user is in no later snapshot, and others are untouched (privacy erasure)", () => {
    const h = new Harness([independent("A", [{ operator: "GTE", value: 1 }])]);
    h.event("gone", "addToCart", T0);
    h.event("kept", "addToCart", T0);
    h.engine.eraseUser("gone", T0 + S);
    const snapshot = h.engine.serialize();
    expect(Object.keys(snapshot.users)).toEqual(["kept"]);
    expect(JSON.stringify(snapshot)).not.toContain("gone");
    expect(h.engine.segmentsOf("kept")).toEqual(["A"]);
    h.advance(T0 + 25 * H); // housekeeping and timers do not bring the user back
    expect(h.engine.users.has("gone")).toBe(false);
  });

  it("a restored checkpoint continues exactly like the original", () => {
    const defs = [
      independent("c3", [{ operator: "GTE", value: 3, windowMinutes: 30 }]),
      independent("none", [{ eventType: "orders", operator: "LT", value: 1, windowMinutes: 15 }]),
    ];
    const a = new Harness(defs);
    for (let i = 0; i < 4; i++) a.event("u", "addToCart", T0 + i * M);
    a.event("u", "orders", T0 + 5 * M);
    const snapshot = JSON.parse(JSON.stringify(a.engine.serialize()));
    const b = new Harness(defs);
    b.engine.restore(snapshot);
    expect(b.segments("u")).toEqual(a.segments("u"));
    const ra = brief(a.runUntil(T0 + 5 * M, T0 + 40 * M));
    const rb = brief(b.runUntil(T0 + 5 * M, T0 + 40 * M));
    expect(rb).toEqual(ra);
    expect(ra).toEqual(["enter none time", "exit c3 time"]);
  });
});

describe("cost does not grow with the number of segments", () => {
  it("visits only the rules whose truth can flip", () => {
    const defs: SegmentDefinition[] = [];
    for (let i = 0; i < 2000; i++) defs.push(independent(`s${i}`, [{ operator: "GTE", value: i + 1, windowMinutes: 60 }]));
    const h = new Harness(defs);
    // Each new event flips exactly one threshold (count n reaches GTE n).
    for (let n = 1; n <= 5; n++) expect(h.event("u", "addToCart", T0 + n * S)).toHaveLength(1);
    expect(h.segments("u")).toHaveLength(5);
  });
});

describe("determinism", () => {
  it("a replay that catches up late produces the transitions of a live run, at the same instants", () => {
    const defs = [
      independent("c2", [{ operator: "GTE", value: 2, windowMinutes: 10 }]),
      independent("none", [{ eventType: "orders", operator: "LT", value: 1, windowMinutes: 5 }]),
      derived("both", "c2 AND none"),
    ];
    const events: [EngineEvent["eventType"], number][] = [
      ["addToCart", T0],
      ["orders", T0 + M],
      ["addToCart", T0 + 3 * M],
      ["addToCart", T0 + 8 * M],
      ["orders", T0 + 20 * M],
    ];
    const live = new Harness(defs);
    let i = 0;
    for (let t = T0; t <= T0 + 40 * M; t += S) {
      live.advance(t);
      for (; i < events.length && events[i]![1] === t; i++) live.event("u", events[i]![0], t, {}, t);
    }
    const replay = new Harness(defs);
    for (const [type, at] of events) replay.event("u", type, at, {}, at);
    replay.advance(T0 + 40 * M);
    const key = (ts: Transition[]) => ts.map((t) => `${t.at - T0} ${t.kind} ${t.segmentId} ${t.cause}`);
    expect(key(replay.log)).toEqual(key(live.log));
    expect(live.log.length).toBeGreaterThan(4);
  });
});
