import { describe, expect, it } from "vitest";
import { nestedDeeperThan, toErrorResponse } from "./route";

describe("nestedDeeperThan", () => {
  it("counts object and array nesting, not brackets inside strings", () => {
    expect(nestedDeeperThan('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(nestedDeeperThan('{"a":[1,{"b":2}]}', 2)).toBe(true);
    expect(nestedDeeperThan(`{"a":"${"[".repeat(500)}"}`, 2)).toBe(false);
    expect(nestedDeeperThan(`{"a":"\\"${"{".repeat(500)}"}`, 2)).toBe(false);
    expect(nestedDeeperThan(`${"[".repeat(65)}${"]".repeat(65)}`, 64)).toBe(true);
    expect(nestedDeeperThan(`${"[".repeat(64)}${"]".repeat(64)}`, 64)).toBe(false);
  });
});

describe("toErrorResponse", () => {
  it("answers 400 in the seed's format when PostgreSQL cannot store a request value (NUL), wrapped or not", async () => {
    const pgError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: "22021" });
    const wrapped = Object.assign(new Error("Failed query: select …"), { cause: pgError });
    for (const error of [pgError, wrapped, Object.assign(new Error("x"), { cause: { code: "22P05" } })]) {
      const res = toErrorResponse(error, "trace-1234");
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; details: { field: string }; traceId: string } };
      expect(body.error).toMatchObject({ code: "VALIDATION_ERROR", details: { field: "request" }, traceId: "trace-1234" });
    }
  });

  it("still answers an unknown error with a generic 500", async () => {
    const res = toErrorResponse(new Error("boom"), "trace-1234");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain("boom");
  });
});
