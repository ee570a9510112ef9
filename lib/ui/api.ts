/** The browser's REST client: same-origin fetch (the session cookie authenticates), JSON in and out. */

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: { field?: string; reason?: string; errors?: { field: string; reason: string }[]; [k: string]: unknown };
  traceId?: string;
}

/** A failed call, carrying the seed's error format so forms can show the reason at the field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorBody["details"] = {},
    readonly traceId?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Every field-level reason: `rules[1].windowMinutes` → "must be at least 1". */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.details?.errors ?? []) out[e.field] ??= e.reason;
    if (this.details?.field && this.details.reason) out[this.details.field] ??= this.details.reason;
    return out;
  }
}

export async function apiFetch<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, headers, ...rest } = init;
  const res = await fetch(path, {
    credentials: "same-origin",
    ...rest,
    headers: { accept: "application/json", ...(json !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = (data as { error?: ApiErrorBody } | null)?.error;
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (res.statusText || "Request failed"), err?.details, err?.traceId);
  }
  return data as T;
}

export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : "Something went wrong");
