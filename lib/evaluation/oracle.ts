/**
 * A brute-force reference: memberships computed from the raw events at one instant, with the
 * same window semantics as the engine and none of its incremental machinery. Tests compare the
 * engine (and the whole pipeline) against it. Pure.
 */
import { compare, DEFAULT_SUM_FIELD } from "@/lib/segments/definition";
import { evaluateExpression } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import { HORIZON_S, inWindow, relSecond } from "./window";
import type { EngineEvent } from "./engine";
import { fieldValue } from "./values";

/**
 * Segment ids each user is in at `nowMs`. `events` are all events ever accepted, with the
 * processing time they were accepted at (events older than 24 h at acceptance are dropped, as
 * the engine does).
 */
export function oracleMemberships(
  definitions: SegmentDefinition[],
  events: { event: EngineEvent; acceptedAt: number }[],
  users: Iterable<string>,
  nowMs: number,
): Map<string, string[]> {
  const now = relSecond(nowMs);
  const byUser = new Map<string, EngineEvent[]>();
  for (const u of users) byUser.set(u, []);
  for (const { event, acceptedAt } of events) {
    if (relSecond(event.timestamp) <= relSecond(acceptedAt) - HORIZON_S) continue;
    if (!byUser.has(event.userId)) byUser.set(event.userId, []);
    byUser.get(event.userId)!.push(event);
  }
  const byId = new Map(definitions.map((d) => [d.id, d]));
  const out = new Map<string, string[]>();
  for (const [userId, evs] of byUser) {
    const memo = new Map<string, boolean>();
    const holds = (id: string): boolean => {
      const cached = memo.get(id);
      if (cached !== undefined) return cached;
      const d = byId.get(id);
      let result = false;
      if (d && d.active) {
        if (d.type === "INDEPENDENT") {
          result =
            d.rules.length > 0 &&
            d.rules.every((r) => {
              let agg = 0;
              for (const e of evs) {
                if (e.eventType !== r.eventType) continue;
                if (!inWindow(relSecond(e.timestamp) * 2, now, r.windowMinutes)) continue;
                agg += r.attribute === "count" ? 1 : fieldValue(e.attributes, r.field ?? DEFAULT_SUM_FIELD);
              }
              return compare(agg, r.operator, r.value);
            });
        } else if (d.expressionTree) {
          result = evaluateExpression(d.expressionTree, holds);
        }
      }
      memo.set(id, result);
      return result;
    };
    out.set(userId, definitions.filter((d) => holds(d.id)).map((d) => d.id).sort());
  }
  return out;
}
