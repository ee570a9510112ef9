import { z } from "zod";
import { MAX_RULES, pageQuerySchema, ruleSchema } from "./definition";

/**
 * Inputs of the segment insight endpoints (size estimate, hourly activity). Pure: no I/O.
 */

/**
 * POST /api/v1/segments/estimate: a definition as the builder holds it — name, description and
 * active may come along (they are ignored), `segmentId` names the segment being edited so its
 * own id counts as a self-reference.
 */
const estimateIndependent = z.object({
  type: z.literal("INDEPENDENT"),
  segmentId: z.uuid({ error: "must be a segment id" }).optional(),
  rules: z
    .array(ruleSchema, { error: (i) => (i.input === undefined ? "is required" : "must be an array") })
    .min(1, { message: "an independent segment needs at least one rule" })
    .max(MAX_RULES, { message: `at most ${MAX_RULES} rules` }),
});
const estimateDerived = z.object({
  type: z.literal("DERIVED"),
  segmentId: z.uuid({ error: "must be a segment id" }).optional(),
  logicalExpression: z
    .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
    .trim()
    .min(1, { message: "must not be empty" })
    .max(10_000, { message: "must be at most 10000 characters" }),
});

export const estimateSegmentSchema = z.preprocess(
  (input) => {
    if (input && typeof input === "object" && !Array.isArray(input) && !("type" in input)) {
      const o = input as Record<string, unknown>;
      if ("logicalExpression" in o && !("rules" in o)) return { ...o, type: "DERIVED" };
      if ("rules" in o) return { ...o, type: "INDEPENDENT" };
    }
    return input;
  },
  z.discriminatedUnion("type", [estimateIndependent, estimateDerived], {
    error: (i) =>
      i.input === undefined
        ? "is required (INDEPENDENT with rules, or DERIVED with logicalExpression)"
        : "must be INDEPENDENT or DERIVED",
  }),
);
export type EstimateSegmentInput = z.output<typeof estimateSegmentSchema>;

export const activityWindows = { "24h": 24, "7d": 168 } as const;
export type ActivityWindow = keyof typeof activityWindows;

const windowSchema = z.enum(["24h", "7d"], { error: "must be 24h or 7d" }).default("24h");

/** GET /api/v1/segments/{id}/stats */
export const activityQuerySchema = z.object({ window: windowSchema });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** GET /api/v1/segments/stats?ids=a,b,c — up to 100 segment ids. */
export const batchActivityQuerySchema = z.object({
  window: windowSchema,
  ids: z
    .string({ error: (i) => (i.input === undefined ? "is required" : "must be a comma-separated list of segment ids") })
    .transform((s) => [...new Set(s.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean))])
    .refine((ids) => ids.length >= 1, { message: "needs at least one segment id" })
    .refine((ids) => ids.length <= 100, { message: "at most 100 segment ids" })
    .refine((ids) => ids.every((id) => UUID.test(id)), { message: "must be a comma-separated list of segment ids" }),
});

export interface ActivityPoint {
  /** Start of the hour (ISO-8601). */
  at: string;
  /** Members at the end of the hour (now, for the current hour). */
  members: number;
  entries: number;
  exits: number;
}

/**
 * Hourly points for the window ending now, oldest first. Members are reconstructed backwards
 * from the current count: at the end of an hour there were `current − entries after + exits after`.
 */
export function activitySeries(
  current: number,
  hourly: readonly { hourMs: number; entries: number; exits: number }[],
  hours: number,
  nowMs: number,
): ActivityPoint[] {
  const HOUR = 3_600_000;
  const lastHour = Math.floor(nowMs / HOUR) * HOUR;
  const firstHour = lastHour - (hours - 1) * HOUR;
  const byHour = new Map(hourly.map((h) => [h.hourMs, h]));
  const points: ActivityPoint[] = [];
  let members = current;
  for (let h = lastHour; h >= firstHour; h -= HOUR) {
    const row = byHour.get(h);
    const entries = row?.entries ?? 0;
    const exits = row?.exits ?? 0;
    points.push({ at: new Date(h).toISOString(), members: Math.max(0, members), entries, exits });
    members = members - entries + exits;
  }
  return points.reverse();
}

/** GET /api/v1/segments/{id}/members: a page, optionally only user ids starting with `search`. */
export const memberPageQuerySchema = pageQuerySchema.extend({
  search: z.string().trim().max(256, { message: "must be at most 256 characters" }).optional(),
});
