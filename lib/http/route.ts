import { randomUUID } from "node:crypto";
import { z } from "zod";
import { AppError, errorCode, formatPath, sqlState, validationError, type FieldIssue } from "@/lib/errors";
import { EventLogUnavailableError } from "@/lib/ports/event-log";
import type { Actor, Scope } from "@/lib/ports/auth";
import { authenticate, requireScope } from "@/lib/services/auth";
import { roleScopes } from "@/lib/auth/roles";
import { sessionTokenFromCookieHeader, sessionUserFromToken } from "@/lib/auth/token";
import { runtime, type Runtime } from "@/lib/runtime";
import { logger } from "@/lib/log";
import type { Logger } from "pino";
import { TokenBuckets, retryAfterSeconds, type BucketConfig } from "@/lib/http/rate-limit";
import { CLIENT_IP_HEADER } from "@/lib/http/client-ip";
import { metrics, routeLabel } from "@/lib/metrics";

/** What every handler receives: parsed input, the caller, the trace id, the clock and the deps. */
export interface RouteContext<B, Q> {
  req: Request;
  body: B;
  query: Q;
  params: Record<string, string>;
  actor: Actor;
  traceId: string;
  now: Date;
  rt: Runtime;
  /** The process logger bound to this request's trace id. */
  log: Logger;
}

interface RouteOptions<BS extends z.ZodType | undefined, QS extends z.ZodType | undefined> {
  /** Required scope; omit only for public routes (health). */
  scope: Scope | "public";
  body?: BS;
  query?: QS;
  /** false: exempt from the rate limits (health probes must answer under a flood). */
  rateLimit?: false;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export type NextRouteHandler = (
  req: Request,
  context: { params: Promise<Record<string, string>> },
) => Promise<Response>;

const TRACE_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(data), {
    status,
    headers: status === 204 ? headers : { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The seed's error format: {"error":{"code","message","details","timestamp","traceId"}}. */
export function errorResponse(error: AppError, traceId: string): Response {
  return json(
    {
      error: {
        code: error.code,
        message: error.message,
        details: error.details,
        timestamp: new Date().toISOString(),
        traceId,
      },
    },
    error.status,
    { ...error.headers, "x-trace-id": traceId },
  );
}

export function zodIssues(error: z.ZodError, prefix: PropertyKey[] = []): FieldIssue[] {
  return error.issues.map((i) => ({
    field: formatPath([...prefix, ...i.path]) || "body",
    reason: i.message,
  }));
}

/** Reads the body as text, refusing more than `limit` bytes without reading them all. */
async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  const tooLarge = () =>
    new AppError("PAYLOAD_TOO_LARGE", `Request body exceeds ${limit} bytes`, {
      field: "body",
      reason: `at most ${limit} bytes`,
    });
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const MAX_JSON_DEPTH = 64;

/** Whether JSON text nests objects/arrays deeper than `max` (brackets inside strings do not count). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

async function parseJsonBody(req: Request, limit: number): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json", {
      field: "Content-Type",
      reason: type ? `got '${type.slice(0, 100)}'` : "missing",
    });
  }
  const text = await readBody(req, limit);
  if (text.trim() === "") throw validationError([{ field: "body", reason: "a JSON body is required" }]);
  // JSON.parse takes any depth, but recursive code after it (zod, JSON.stringify when storing)
  // overflows the stack on a few thousand levels: no request of this API nests that deep.
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw validationError([{ field: "body", reason: `nested deeper than ${MAX_JSON_DEPTH} levels` }]);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AppError("INVALID_JSON", "Request body is not valid JSON", {
      field: "body",
      reason: e instanceof Error ? e.message : "malformed JSON",
    });
  }
}

function isUnavailable(error: unknown): boolean {
  // By name too: Next bundles route handlers apart from server.ts, so the class an adapter
  // created in the runtime may not be the one this bundle imported.
  if (error instanceof EventLogUnavailableError || (error as Error | null)?.name === "EventLogUnavailableError") return true;
  return errorCode(error, (code) => /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/.test(code) || /^(08|57P)/.test(code)) !== undefined;
}

/**
 * PostgreSQL refusing a value the request carried that passed validation: a NUL character
 * (22021 invalid byte sequence; 22P05 in JSON) has no place in its text. The client's input,
 * so a 400, not a 500.
 */
function unstorableValue(error: unknown): boolean {
  const state = sqlState(error);
  return state === "22021" || state === "22P05";
}

/** Turns anything thrown into the seed's error format; unknown errors become a logged 500. */
export function toErrorResponse(error: unknown, traceId: string): Response {
  if (error instanceof AppError) return errorResponse(error, traceId);
  if (error instanceof z.ZodError) return errorResponse(validationError(zodIssues(error)), traceId);
  if (unstorableValue(error)) {
    logger().warn({ err: error, traceId }, "a request value the database cannot store");
    return errorResponse(validationError([{ field: "request", reason: "contains a character that cannot be stored (NUL)" }]), traceId);
  }
  if (isUnavailable(error)) {
    logger().warn({ err: error, traceId }, "dependency unavailable");
    return errorResponse(
      new AppError("SERVICE_UNAVAILABLE", "A backing service is unavailable; retry shortly", {}, { "retry-after": "1" }),
      traceId,
    );
  }
  logger().error({ err: error, traceId }, "unhandled error in route");
  return errorResponse(new AppError("INTERNAL_ERROR", "Internal server error"), traceId);
}

/**
 * A bearer token (API key) when the request carries one; otherwise the UI's session cookie, whose
 * role maps to scopes. A cookie-authenticated write must come from this origin (no cross-site
 * request can act with a marketer's session).
 */
export async function authenticateRequest(rt: Runtime, req: Request, now: Date): Promise<Actor> {
  const authorization = req.headers.get("authorization");
  const token = authorization ? null : sessionTokenFromCookieHeader(req.headers.get("cookie"));
  if (token) {
    const user = await sessionUserFromToken(rt.accountDeps, rt.authSecret, token);
    if (user) {
      if (!SAFE_METHODS.has(req.method) && !sameOrigin(req)) {
        throw new AppError("FORBIDDEN", "Cross-origin request refused", { field: "Origin", reason: "must match the host" });
      }
      return { id: `user:${user.id}`, scopes: roleScopes[user.role] };
    }
  }
  return authenticate({ apiKeys: rt.apiKeys, adminApiKey: rt.env.ADMIN_API_KEY, jwt: rt.jwt }, authorization, now);
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function sameOrigin(req: Request): boolean {
  const origin = req.headers.get("origin");
  const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host");
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

// --- rate limits ---------------------------------------------------------------------------

interface Limits {
  ip: TokenBuckets;
  key: TokenBuckets;
  ingest: TokenBuckets;
}

// Per process (each web instance has its own buckets) and per runtime, shared across Next's
// bundles through globalThis.
const LIMITS = Symbol.for("audience-manager.rate-limits");
const gl = globalThis as unknown as { [LIMITS]?: WeakMap<Runtime, Limits> };

function limitsOf(rt: Runtime): Limits {
  const all = (gl[LIMITS] ??= new WeakMap());
  let limits = all.get(rt);
  if (!limits) {
    const bucket = (rate: number, burst: number | undefined): BucketConfig => ({
      ratePerSecond: rate,
      burst: burst ?? Math.max(1, Math.ceil(rate * 2)),
    });
    const e = rt.env;
    limits = {
      ip: new TokenBuckets(bucket(e.RATE_LIMIT_PER_IP, e.RATE_LIMIT_PER_IP_BURST)),
      key: new TokenBuckets(bucket(e.RATE_LIMIT_PER_KEY, e.RATE_LIMIT_PER_KEY_BURST)),
      ingest: new TokenBuckets(bucket(e.RATE_LIMIT_INGEST_PER_KEY, e.RATE_LIMIT_INGEST_PER_KEY_BURST)),
    };
    all.set(rt, limits);
  }
  return limits;
}

/** Takes a token or throws 429 RATE_LIMITED with Retry-After. Real time, not the runtime's clock. */
function takeToken(buckets: TokenBuckets, key: string, kind: "ip" | "key" | "ingest"): void {
  const result = buckets.take(key, Date.now());
  if (result.ok) return;
  metrics().rateLimited.inc({ limit: kind });
  const seconds = retryAfterSeconds(result.retryAfterMs);
  throw new AppError(
    "RATE_LIMITED",
    `Too many requests; retry in ${seconds} s`,
    {
      field: kind === "ip" ? "client" : "Authorization",
      reason: `more than ${buckets.config.ratePerSecond} requests/s ${kind === "ip" ? "from this address" : kind === "ingest" ? "of ingestion for this credential" : "for this credential"}`,
    },
    { "retry-after": String(seconds) },
  );
}

/** Records the request's latency by route pattern and status (and a debug access log line). */
async function observe(req: Request, context: { params: Promise<Record<string, string>> } | undefined, status: number, traceId: string | null, started: number): Promise<void> {
  const seconds = (performance.now() - started) / 1000;
  const params = context?.params ? await context.params.catch(() => ({})) : {};
  const label = routeLabel(new URL(req.url).pathname, params);
  metrics().httpDuration.observe({ method: req.method, route: label, status: String(status) }, seconds);
  logger().debug({ traceId, method: req.method, route: label, status, ms: Math.round(seconds * 1000) }, "request");
}

/**
 * Wraps a route handler: trace id, rate limits, authentication and scope, body and query parsing
 * with zod, and the single catch that answers every failure in the seed's error format; records
 * the latency by route.
 */
export function route<BS extends z.ZodType | undefined = undefined, QS extends z.ZodType | undefined = undefined>(
  options: RouteOptions<BS, QS>,
  handler: (ctx: RouteContext<Out<BS>, Out<QS>>) => Promise<Response>,
): NextRouteHandler {
  const handle: NextRouteHandler = async (req, context) => {
    const incoming = req.headers.get("x-request-id") ?? req.headers.get("x-trace-id");
    const traceId = incoming && TRACE_ID.test(incoming) ? incoming : randomUUID();
    try {
      const rt = await runtime();
      const now = rt.clock.now();
      // Per client IP before authentication (so guessing keys is throttled too), then per caller.
      const limits = options.rateLimit === false ? null : limitsOf(rt);
      if (limits) takeToken(limits.ip, req.headers.get(CLIENT_IP_HEADER) ?? "unknown", "ip");
      const actor: Actor =
        options.scope === "public" ? { id: "anonymous", scopes: [] } : await authenticateRequest(rt, req, now);
      if (options.scope !== "public") {
        if (limits) takeToken(options.scope === "ingest" ? limits.ingest : limits.key, actor.id, options.scope === "ingest" ? "ingest" : "key");
        requireScope(actor, options.scope);
      }

      let query: unknown = undefined;
      if (options.query) {
        const url = new URL(req.url);
        const result = options.query.safeParse(Object.fromEntries(url.searchParams));
        if (!result.success) throw validationError(zodIssues(result.error), "Invalid query parameters");
        query = result.data;
      }
      let body: unknown = undefined;
      if (options.body) {
        const raw = await parseJsonBody(req, rt.env.MAX_BODY_BYTES);
        const result = options.body.safeParse(raw);
        if (!result.success) throw validationError(zodIssues(result.error));
        body = result.data;
      }
      const params = context?.params ? await context.params : {};
      const response = await handler({
        req,
        body: body as Out<BS>,
        query: query as Out<QS>,
        params,
        actor,
        traceId,
        now,
        rt,
        log: logger().child({ traceId }),
      });
      response.headers.set("x-trace-id", traceId);
      return response;
    } catch (error) {
      return toErrorResponse(error, traceId);
    }
  };
  return async (req, context) => {
    const started = performance.now();
    const response = await handle(req, context);
    void observe(req, context, response.status, response.headers.get("x-trace-id"), started).catch(() => undefined);
    return response;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a UUID names nothing: 404, not a database error. */
export function uuidParam(params: Record<string, string>, name: string, entity: string): string {
  const value = params[name] ?? "";
  if (!UUID.test(value)) {
    throw new AppError("NOT_FOUND", `${entity} ${value.slice(0, 100)} not found`, { field: name, reason: "not found" });
  }
  return value.toLowerCase();
}
