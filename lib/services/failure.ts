/**
 * Retryable or permanent? Workers retry what can succeed later (a connection refused, a timeout,
 * a serialization failure, the log being down) and dead-letter what never will (a row that
 * breaks a constraint, data the database refuses). Retrying a permanent failure forever stalls
 * a partition; dead-lettering a transient one loses data, so anything unrecognised is retryable.
 */

import { errorChain, refusesData, sqlState } from "@/lib/errors";

export { sqlState };

/** SQLSTATE 23503: a row names a parent (a segment) the database does not have. */
export const isForeignKeyViolation = (error: unknown) => sqlState(error) === "23503";

/**
 * Class 22 (data exception: invalid text for a uuid, a NUL in jsonb, a number out of range) and
 * class 23 (integrity constraint violation) fail the same way on every attempt. Everything else
 * — connection errors (class 08, or no SQLSTATE at all), serialization failures and deadlocks
 * (40), resource shortages (53), an administrator's shutdown (57) — may succeed later.
 */
export const isPermanentError = refusesData;

/**
 * One line for logs and dead letters: the database's own message and SQLSTATE when there is one
 * (not drizzle's "Failed query: …" with every parameter of a 1,000-row batch), capped at 300 characters.
 */
export function errorText(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  for (const e of errorChain(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && e instanceof Error) {
      text = `${e.message} (${code})`;
      break;
    }
  }
  const line = text.split("\n")[0]!;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
