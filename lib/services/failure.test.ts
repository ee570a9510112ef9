import { describe, expect, it } from "vitest";
import { errorText, isForeignKeyViolation, isPermanentError, sqlState } from "./failure";

/** What drizzle throws: its own error around the driver's, which carries the SQLSTATE. */
const wrapped = (code: string, message = "driver says no") =>
  Object.assign(new Error("Failed query: insert into t select * from unnest($1)\nparams: a,b,c"), {
    cause: Object.assign(new Error(message), { code }),
  });

describe("failure classification", () => {
  it("finds the SQLSTATE inside drizzle's wrapper", () => {
    expect(sqlState(wrapped("23503"))).toBe("23503");
    expect(sqlState(new Error("plain"))).toBeUndefined();
  });

  it("calls data and constraint errors permanent, everything else retryable", () => {
    expect(isPermanentError(wrapped("23503"))).toBe(true); // foreign key
    expect(isPermanentError(wrapped("22P02"))).toBe(true); // invalid text for a uuid
    expect(isPermanentError(wrapped("22P05"))).toBe(true); // NUL in jsonb
    expect(isPermanentError(wrapped("40001"))).toBe(false); // serialization failure
    expect(isPermanentError(wrapped("40P01"))).toBe(false); // deadlock
    expect(isPermanentError(wrapped("57P01"))).toBe(false); // admin shutdown
    expect(isPermanentError(wrapped("08006"))).toBe(false); // connection failure
    expect(isPermanentError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isPermanentError(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).toBe(false);
    expect(isPermanentError(new Error("timeout"))).toBe(false);
    expect(isForeignKeyViolation(wrapped("23503"))).toBe(true);
    expect(isForeignKeyViolation(wrapped("23505"))).toBe(false);
  });

  it("reports the database's message on one line, not the query and its parameters", () => {
    expect(errorText(wrapped("23503", 'insert violates foreign key constraint "x_fk"'))).toBe(
      'insert violates foreign key constraint "x_fk" (23503)',
    );
    expect(errorText(new Error("a\nb"))).toBe("a");
    expect(errorText(new Error("x".repeat(400))).length).toBe(300);
  });
});
