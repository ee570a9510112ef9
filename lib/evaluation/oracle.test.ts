import { describe, expect, it } from "vitest";
import { eventTypes, operators, type Rule } from "@/lib/segments/definition";
import { parseExpression } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import { Definitions, PartitionEngine, type EngineEvent } from "./engine";
import { compileRuleSet } from "./ruleset";
import { oracleMemberships } from "./oracle";

/** A small deterministic PRNG, so a failure names its seed and replays. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const WINDOWS = [1, 5, 15, 30, 59, 60, 61, 90, 120, 360, 1440];

function randomDefinitions(r: () => number, n: number): SegmentDefinition[] {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const defs: SegmentDefinition[] = [];
  for (let i = 0; i < n; i++) {
    const rules: Rule[] = [];
    const k = 1 + Math.floor(r() * 2);
    for (let j = 0; j < k; j++) {
      const sum = r() < 0.35;
      rules.push({
        eventType: pick(eventTypes),
        attribute: sum ? "sum" : "count",
        field: sum ? pick(["value", "amount"]) : null,
        operator: pick(operators),
        value: sum ? Math.floor(r() * 60) : Math.floor(r() * 5),
        windowMinutes: pick(WINDOWS),
      });
    }
    defs.push({
      id: `s${i}`,
      name: `s${i}`,
      description: null,
      type: "INDEPENDENT",
      active: true,
      version: 1,
      rules,
      logicalExpression: null,
      expressionTree: null,
      dependencies: [],
    });
  }
  for (let i = 0; i < Math.floor(n / 3); i++) {
    const a = pick(defs).id;
    const b = pick(defs).id;
    const text = pick([`${a} AND ${b}`, `${a} OR NOT ${b}`, `NOT (${a} OR ${b})`, `NOT ${a}`]);
    const tree = parseExpression(text);
    defs.push({
      id: `d${i}`,
      name: `d${i}`,
      description: null,
      type: "DERIVED",
      active: true,
      version: 1,
      rules: [],
      logicalExpression: text,
      expressionTree: tree,
      dependencies: [],
    });
  }
  return defs;
}

describe("engine versus brute-force oracle", () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))("seed %d: memberships match at every checkpoint", (seed) => {
    const r = rng(seed);
    const defs = randomDefinitions(r, 12);
    const engine = new PartitionEngine(new Definitions(compileRuleSet({ definitions: defs })));
    if (process.env.DBG && seed === Number(process.env.DBG)) console.log(JSON.stringify(defs.map((d) => [d.id, d.rules, d.logicalExpression])));
    const users = ["a", "b", "c", "d"];
    const accepted: { event: EngineEvent; acceptedAt: number }[] = [];
    let now = T0;
    for (let step = 0; step < 400; step++) {
      // Time moves 0–20 minutes, timers fire, and sometimes we check against the oracle.
      now += Math.floor(r() * 20 * 60) * 1000 + Math.floor(r() * 1000);
      const adv = engine.advance(now);
      if (process.env.DBG && seed === Number(process.env.DBG) && adv.length) console.log(step, "advance", now, JSON.stringify(adv.map((t) => [t.userId, t.segmentId, t.kind])));
      const burst = Math.floor(r() * 3);
      for (let k = 0; k < burst; k++) {
        const late = r() < 0.2 ? Math.floor(r() * 26 * 3600) * 1000 : 0;
        const future = r() < 0.05 ? Math.floor(r() * 300) * 1000 : 0;
        const event: EngineEvent = {
          userId: users[Math.floor(r() * users.length)]!,
          eventType: eventTypes[Math.floor(r() * eventTypes.length)]!,
          timestamp: now - late + future,
          attributes: { value: Math.floor(r() * 30), amount: r() < 0.5 ? Math.floor(r() * 10) : "n/a" },
        };
        engine.applyEvent(event, now);
        if (process.env.DBG && seed === Number(process.env.DBG)) console.log(step, JSON.stringify(event), now);
        accepted.push({ event, acceptedAt: now });
      }
      if (step % 10 === 9) {
        const expected = oracleMemberships(defs, accepted, engine.users.keys(), now);
        for (const [u, segs] of expected) {
          expect({ seed, step, u, segs: engine.segmentsOf(u).sort() }).toEqual({ seed, step, u, segs });
        }
      }
    }
  });
});

describe("engine versus oracle, with definition changes and restarts", () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 100))("seed %d", (seed) => {
    const r = rng(seed);
    let defs = randomDefinitions(r, 10);
    let definitions = new Definitions(compileRuleSet({ definitions: defs }));
    let engine = new PartitionEngine(definitions);
    const users = ["a", "b", "c", "d", "e"];
    const accepted: { event: EngineEvent; acceptedAt: number }[] = [];
    let now = T0;
    for (let step = 0; step < 300; step++) {
      now += Math.floor(r() * 15 * 60) * 1000;
      engine.advance(now);
      const roll = r();
      if (roll < 0.08) {
        // Edit a random independent segment: a new threshold, or a toggled status.
        const i = Math.floor(r() * 10);
        const d = defs[i]!;
        const next = r() < 0.5
          ? { ...d, version: d.version + 1, active: !d.active }
          : { ...d, version: d.version + 1, rules: d.rules.map((x) => ({ ...x, value: Math.floor(r() * 4) })) };
        defs = defs.map((x) => (x.id === d.id ? next : x));
        const compiled = compileRuleSet({ definitions: defs, previous: definitions.ruleSet });
        definitions.install(compiled, [
          { slot: compiled.segments.get(d.id)!.slot, cause: next.active === d.active ? "definition" : next.active ? "definition" : "deactivated" },
        ]);
        engine.refresh(Math.floor(r() * 4), now); // a partial backfill; the rest catch up on touch
      } else if (roll < 0.12) {
        // A crash and restart from a checkpoint taken now.
        const snapshot = JSON.parse(JSON.stringify(engine.serialize()));
        definitions = new Definitions(compileRuleSet({ definitions: defs }));
        engine = new PartitionEngine(definitions);
        engine.restore(snapshot);
      }
      for (let k = Math.floor(r() * 3); k > 0; k--) {
        const event: EngineEvent = {
          userId: users[Math.floor(r() * users.length)]!,
          eventType: eventTypes[Math.floor(r() * eventTypes.length)]!,
          timestamp: now - (r() < 0.2 ? Math.floor(r() * 20 * 3600) * 1000 : 0),
          attributes: { value: Math.floor(r() * 30), amount: Math.floor(r() * 10) },
        };
        engine.applyEvent(event, now);
        accepted.push({ event, acceptedAt: now });
      }
      if (step % 10 === 9) {
        engine.refresh(Infinity, now);
        const expected = oracleMemberships(defs, accepted, engine.users.keys(), now);
        for (const [u, segs] of expected) {
          expect({ seed, step, u, segs: engine.segmentsOf(u).sort() }).toEqual({ seed, step, u, segs });
        }
      }
    }
  });
});
