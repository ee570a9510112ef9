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
