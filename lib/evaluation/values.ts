/** How event attributes become numbers for sum rules. Pure. */

/** A finite number, or a numeric string; anything else counts 0. */
export function numeric(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/** The value of a (possibly dotted) attribute path; missing or non-numeric counts 0. */
export function fieldValue(attributes: Record<string, unknown>, field: string): number {
  if (!field.includes(".")) return numeric(attributes[field]);
  let cur: unknown = attributes;
  for (const part of field.split(".")) {
    if (cur === null || typeof cur !== "object") return 0;
    cur = (cur as Record<string, unknown>)[part];
  }
  return numeric(cur);
}
