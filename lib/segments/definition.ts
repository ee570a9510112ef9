import { z } from "zod";

/**
 * Segment definitions as the API accepts them (seed §4, camelCase). Pure: no I/O.
 * The schema and its type come in pairs: `createSegmentSchema` / `CreateSegmentInput`.
 */
export const eventTypes = ["clicks", "installs", "orders", "addToCart"] as const;
export const ruleAttributes = ["count", "sum"] as const;
export const operators = ["GT", "LT", "EQ", "GTE", "LTE", "NEQ"] as const;
export const segmentTypes = ["INDEPENDENT", "DERIVED"] as const;

export type EventType = (typeof eventTypes)[number];
export type RuleAttribute = (typeof ruleAttributes)[number];
export type Operator = (typeof operators)[number];
export type SegmentType = (typeof segmentTypes)[number];

export const MAX_WINDOW_MINUTES = 1440;
export const MAX_RULES = 50;
export const DEFAULT_SUM_FIELD = "value";

const enumMessage = (values: readonly string[]) => ({
  error: (issue: { input?: unknown }) =>
    issue.input === undefined ? "is required" : `must be one of ${values.join(", ")}`,
});

export const ruleSchema = z
  .object({
    eventType: z.enum(eventTypes, enumMessage(eventTypes)),
    attribute: z.enum(ruleAttributes, enumMessage(ruleAttributes)),
    field: z
      .string({ error: "must be a string" })
      .regex(/^[A-Za-z_][A-Za-z0-9_.]{0,63}$/, { message: "must be an attribute name (letters, digits, _ and .)" })
      .optional(),
    operator: z.enum(operators, enumMessage(operators)),
    value: z
      .number({ error: (i) => (i.input === undefined ? "is required" : "must be a number") })
      .finite({ message: "must be a finite number" })
      .min(-1e15, { message: "must be at least -1e15" })
      .max(1e15, { message: "must be at most 1e15" }),
    windowMinutes: z
      .number({ error: (i) => (i.input === undefined ? "is required" : "must be a number") })
      .int({ message: "must be a whole number of minutes" })
      .min(1, { message: "must be at least 1" })
      .max(MAX_WINDOW_MINUTES, { message: `must be at most ${MAX_WINDOW_MINUTES}` }),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.attribute === "count" && rule.field !== undefined) {
      ctx.addIssue({ code: "custom", path: ["field"], message: "only a sum rule takes a field" });
    }
    if (rule.attribute === "count" && rule.value < 0) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "a count is never negative; use a value of 0 or more" });
    }
  })
  .transform((rule) => ({
    ...rule,
    field: rule.attribute === "sum" ? (rule.field ?? DEFAULT_SUM_FIELD) : null,
  }));

export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;

const nameSchema = z
  .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
  .trim()
  .min(1, { message: "must not be empty" })
  .max(200, { message: "must be at most 200 characters" });
const descriptionSchema = z
  .string({ error: "must be a string" })
  .max(2000, { message: "must be at most 2000 characters" })
  .nullable()
  .optional();
const activeSchema = z.boolean({ error: "must be true or false" }).optional();

const independentSchema = z
  .object({
    type: z.literal("INDEPENDENT"),
    name: nameSchema,
    description: descriptionSchema,
    active: activeSchema,
    rules: z
      .array(ruleSchema, { error: (i) => (i.input === undefined ? "is required" : "must be an array") })
      .min(1, { message: "an independent segment needs at least one rule" })
      .max(MAX_RULES, { message: `at most ${MAX_RULES} rules` }),
  })
  .strict();

const derivedSchema = z
  .object({
    type: z.literal("DERIVED"),
    name: nameSchema,
    description: descriptionSchema,
    active: activeSchema,
    logicalExpression: z
      .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
      .trim()
      .min(1, { message: "must not be empty" })
      .max(10_000, { message: "must be at most 10000 characters" }),
  })
  .strict();

/**
 * `type` may be left out: `rules` means INDEPENDENT, `logicalExpression` means DERIVED.
 * A body that is not an object falls through to zod's own message.
 */
function inferType(input: unknown): unknown {
  if (input && typeof input === "object" && !Array.isArray(input) && !("type" in input)) {
    const o = input as Record<string, unknown>;
    if ("logicalExpression" in o && !("rules" in o)) return { ...o, type: "DERIVED" };
    if ("rules" in o && !("logicalExpression" in o)) return { ...o, type: "INDEPENDENT" };
  }
  return input;
}

export const segmentDefinitionSchema = z.preprocess(
  inferType,
  z.discriminatedUnion("type", [independentSchema, derivedSchema], {
    error: (i) =>
      i.input === undefined
        ? "is required (INDEPENDENT with rules, or DERIVED with logicalExpression)"
        : "must be INDEPENDENT or DERIVED",
  }),
);

/** POST /api/v1/segments and PUT /api/v1/segments/{id} take the same full definition. */
export const createSegmentSchema = segmentDefinitionSchema;
export type CreateSegmentInput = z.output<typeof createSegmentSchema>;
export const updateSegmentSchema = segmentDefinitionSchema;
export type UpdateSegmentInput = z.output<typeof updateSegmentSchema>;

export const segmentStatusSchema = z
  .object({ active: z.boolean({ error: (i) => (i.input === undefined ? "is required" : "must be true or false") }) })
  .strict();
export type SegmentStatusInput = z.output<typeof segmentStatusSchema>;

export const listSegmentsQuerySchema = z.object({
  page: z.coerce.number({ error: "must be a number" }).int({ message: "must be a whole number" }).min(1, { message: "must be at least 1" }).default(1),
  pageSize: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(100, { message: "must be at most 100" })
    .default(20),
  type: z.enum(segmentTypes, enumMessage(segmentTypes)).optional(),
  active: z
    .enum(["true", "false"], { error: "must be true or false" })
    .transform((v) => v === "true")
    .optional(),
  search: z.string().trim().max(200, { message: "must be at most 200 characters" }).optional(),
});
export type ListSegmentsQuery = z.output<typeof listSegmentsQuerySchema>;

/** True when `aggregate OP threshold` holds. */
export function compare(aggregate: number, operator: Operator, threshold: number): boolean {
  switch (operator) {
    case "GT":
      return aggregate > threshold;
    case "GTE":
      return aggregate >= threshold;
    case "LT":
      return aggregate < threshold;
    case "LTE":
      return aggregate <= threshold;
    case "EQ":
      return aggregate === threshold;
    case "NEQ":
      return aggregate !== threshold;
  }
}

export const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(1000, { message: "must be at most 1000" })
    .default(100),
  after: z.string().max(300, { message: "must be at most 300 characters" }).optional(),
  before: z.string().max(300, { message: "must be at most 300 characters" }).optional(),
});
export type PageQuery = z.output<typeof pageQuerySchema>;
