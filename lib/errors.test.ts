import { describe, expect, it } from "vitest";
import { errorChain, errorCode, refusesData, sqlState } from "./errors";

const wrap = (inner: unknown, outerCode?: string) => Object.assign(new Error("outer", { cause: inner }), outerCode ? { code: outerCode } : {});

describe("error chains", () => {
  it("walks an error and its causes, outermost first, at most five deep", () => {
    let e: unknown = Object.assign(new Error("root"), { code: "23505" });
    for (let i = 0; i < 6; i++) e = wrap(e);
    expect([...errorChain(e)]).toHaveLength(5);
    expect(sqlState(e)).toBeUndefined(); // the coded root is 7 deep
    expect([...errorChain(null)]).toEqual([]);
    expect([...errorChain("text")]).toEqual([]);
  });

  it("finds the first accepted code: SQLSTATE under a driver wrapper, network codes", () => {
    const db = wrap(Object.assign(new Error("duplicate key"), { code: "23505" }), "ERR_DRIZZLE");
    expect(sqlState(db)).toBe("23505");
    expect(errorCode(db)).toBe("ERR_DRIZZLE");
    expect(errorCode(wrap(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })), (c) => c.startsWith("E"))).toBe("ECONNREFUSED");
    expect(sqlState(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBeUndefined();
  });

  it("says when the database refuses the data itself (class 22 or 23)", () => {
    expect(refusesData(wrap(Object.assign(new Error("bad uuid"), { code: "22P02" })))).toBe(true);
    expect(refusesData(Object.assign(new Error("fk"), { code: "23503" }))).toBe(true);
    expect(refusesData(Object.assign(new Error("serialization"), { code: "40001" }))).toBe(false);
    expect(refusesData(new Error("no code"))).toBe(false);
  });
});
