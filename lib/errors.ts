/**
 * One error type for everything the API answers on purpose. Anything else is an internal
 * error: logged with its trace id, answered as a generic 500.
 */
export type ErrorCode =
  | "VALIDATION_ERROR"
  | "INVALID_JSON"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "DEPENDENCY_CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "HEADERS_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "METHOD_NOT_ALLOWED"
  | "RATE_LIMITED"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_ERROR";

export const statusOf: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  DEPENDENCY_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  METHOD_NOT_ALLOWED: 405,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export interface FieldIssue {
  field: string;
  reason: string;
}

/** `details` of the seed's error format: the first failing field, plus every issue when several. */
export interface ErrorDetails {
  field?: string;
  reason?: string;
  errors?: FieldIssue[];
  [extra: string]: unknown;
}

export class AppError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details: ErrorDetails = {},
    public readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): number {
    return statusOf[this.code];
  }
}

export const notFound = (entity: string, id: string) =>
  new AppError("NOT_FOUND", `${entity} ${id} not found`, { field: "id", reason: "not found" });

/** Builds a VALIDATION_ERROR from field issues (the first is promoted to field/reason). */
export function validationError(issues: FieldIssue[], message = "Request validation failed"): AppError {
  const first = issues[0];
  return new AppError("VALIDATION_ERROR", message, {
    field: first?.field,
    reason: first?.reason,
    ...(issues.length > 1 ? { errors: issues } : {}),
  });
}

/** Formats a path like ["rules", 0, "windowMinutes"] as `rules[0].windowMinutes`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * An error and the errors it wraps (`cause`), outermost first, at most `depth` of them: drizzle,
 * fetch, nodemailer and kafkajs keep the underlying error (with its code) in `cause`.
 */
export function* errorChain(error: unknown, depth = 5): Generator<object> {
  for (let e = error, n = 0; e && typeof e === "object" && n < depth; e = (e as { cause?: unknown }).cause, n++) yield e;
}

/** The first string `code` on the error or one of its causes that passes `accept`. */
export function errorCode(error: unknown, accept: (code: string) => boolean = () => true): string | undefined {
  for (const e of errorChain(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && accept(code)) return code;
  }
  return undefined;
}

/** The SQLSTATE of a database error, looking through wrappers (drizzle's DrizzleQueryError keeps it in `cause`). */
export const sqlState = (error: unknown) => errorCode(error, (code) => /^[0-9]{2}[0-9A-Z]{3}$/.test(code));

/** Class 22 (data exception) or 23 (integrity constraint violation): the database refuses the data itself. */
export function refusesData(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"));
}
