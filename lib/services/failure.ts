/**
 * Retryable or permanent? Workers retry what can succeed later (a connection refused, a timeout,
 * a serialization failure, the log being down) and dead-letter what never will (a row that
 * breaks a constraint, data the database refuses). Retrying a permanent failure forever stalls
 * a partition; dead-lettering a transient one loses data, so anything unrecognised is retryable.
 */

/** The SQLSTATE of a database error, looking through wrappers (drizzle's DrizzleQueryError keeps it in `cause`). */
export function sqlState(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && /^[0-9]{2}/.test(code)) return code;
  }
  return undefined;
}

/** SQLSTATE 23503: a row names a parent (a segment) the database does not have. */
export const isForeignKeyViolation = (error: unknown) => sqlState(error) === "23503";

/**
 * Class 22 (data exception: invalid text for a uuid, a NUL in jsonb, a number out of range) and
 * class 23 (integrity constraint violation) fail the same way on every attempt. Everything else
 * — connection errors (class 08, or no SQLSTATE at all), serialization failures and deadlocks
 * (40), resource shortages (53), an administrator's shutdown (57) — may succeed later.
 */
export function isPermanentError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"));
}

/**
 * One line for logs and dead letters: the database's own message and SQLSTATE when there is one
 * (not drizzle's "Failed query: …" with every parameter of a 1,000-row batch), capped at 300 characters.
 */
export function errorText(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && e instanceof Error) {
      text = `${e.message} (${code})`;
      break;
    }
  }
  const line = text.split("\n")[0]!;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
