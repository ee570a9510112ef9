/**
 * Answers for API requests that reach no route handler, in the seed's error format.
 *
 * Next answers an unknown `/api/...` path with its HTML 404 page, a method the route file does
 * not export with an empty 405, and a path segment with a malformed percent-escape
 * (`/api/v1/segments/%E0%A4%A`) with a plain-text 500. An API client should get JSON in one
 * format whatever it sends, and never a 5xx for its own mistake. server.ts asks
 * {@link ApiGuard.check} before handing a request to Next: it knows the route files
 * (app/**\/route.ts, read once at start) and which methods each exports, and answers 400, 404
 * or 405 itself; everything it lets through is Next's, exactly as before.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import path from "node:path";
import { AppError } from "@/lib/errors";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export interface ApiRoute {
  /** `/api/v1/segments/{segmentId}` (`{name}` for a dynamic segment, `{...name}` for a catch-all). */
  path: string;
  segments: string[];
  /** Methods the route file exports. */
  methods: Set<string>;
  file: string;
}

/** The methods a route file's source exports (`export const GET =`, `export async function GET`, `export { h as GET }`). */
export function exportedMethods(source: string): Set<string> {
  const out = new Set<string>();
  for (const m of source.matchAll(/export\s+(?:const|let|async\s+function|function)\s+([A-Z]+)\b/g)) out.add(m[1]!);
  for (const m of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(",")) {
      const name = part.trim().split(/\s+as\s+/).at(-1);
      if (name) out.add(name);
    }
  }
  return new Set([...out].filter((name) => (METHODS as readonly string[]).includes(name)));
}

/** Every app/**\/route.ts with its exported methods (route groups and private folders as Next treats them). */
export function scanApiRoutes(appDir: string): ApiRoute[] {
  const out: ApiRoute[] = [];
  const walk = (dir: string, segments: string[]) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (name.startsWith("_")) continue;
        if (/^\(.*\)$/.test(name)) walk(full, segments);
        else {
          const catchAll = /^\[\[?\.\.\.(.+?)\]?\]$/.exec(name);
          const param = /^\[(.+)\]$/.exec(name);
          walk(full, [...segments, catchAll ? `{...${catchAll[1]}}` : param ? `{${param[1]}}` : name]);
        }
      } else if (/^route\.(ts|js|mjs)$/.test(name)) {
        out.push({ path: `/${segments.join("/")}`, segments, methods: exportedMethods(readFileSync(full, "utf8")), file: full });
      }
    }
  };
  walk(appDir, []);
  return out;
}

export interface ApiGuardOptions {
  /** Paths the guard answers for (default `/api/` and `/v1/`, the Segment-spec ingestion). */
  prefixes?: string[];
  /** Paths left to their own handlers whatever they are (default next-auth's `/api/auth/`). */
  exempt?: string[];
}

export interface ApiGuard {
  /** The error to answer for `method` and the raw request target, or null to let the request through. */
  check(method: string, url: string): AppError | null;
}

/** Static segments outrank dynamic ones, and those outrank catch-alls, position by position (Next's precedence). */
const rank = (r: ApiRoute) => r.segments.map((s) => (s.startsWith("{...") ? "0" : s.startsWith("{") ? "1" : "2")).join("");

function matches(route: ApiRoute, parts: string[]): boolean {
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i]!;
    if (seg.startsWith("{...")) return i < parts.length;
    const part = parts[i];
    if (part === undefined) return false;
    if (!seg.startsWith("{") && seg !== part) return false;
  }
  return route.segments.length === parts.length;
}

export function createApiGuard(routes: ApiRoute[], options: ApiGuardOptions = {}): ApiGuard {
  const prefixes = options.prefixes ?? ["/api/", "/v1/"];
  const exempt = options.exempt ?? ["/api/auth/"];
  const ordered = [...routes].sort((a, b) => rank(b).localeCompare(rank(a)));
  return {
    check(method, url) {
      const q = url.indexOf("?");
      const pathname = q === -1 ? url : url.slice(0, q);
      if (!prefixes.some((p) => pathname.startsWith(p))) return null;
      const raw = pathname.split("/").slice(1);
      const parts: string[] = [];
      for (const part of raw) {
        try {
          parts.push(decodeURIComponent(part));
        } catch {
          // Also under the exempt paths: Next fails on these before any handler runs.
          return new AppError("VALIDATION_ERROR", "The request path is not valid", {
            field: "path",
            reason: `malformed percent-encoding in '${part.slice(0, 100)}'`,
          });
        }
      }
      if (exempt.some((p) => pathname.startsWith(p))) return null;
      // Next redirects these to the normalised path (308); not an error.
      if (pathname.endsWith("/") || pathname.includes("//")) return null;
      const route = ordered.find((r) => matches(r, parts));
      if (!route) {
        return new AppError("NOT_FOUND", `No API route at ${pathname.slice(0, 200)}`, { field: "path", reason: "no such route" });
      }
      const allowed = new Set(route.methods);
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS"); // Next answers OPTIONS for every route
      if (allowed.has(method)) return null;
      const allow = METHODS.filter((m) => allowed.has(m)).join(", ");
      return new AppError(
        "METHOD_NOT_ALLOWED",
        `${method.slice(0, 20)} is not allowed on ${route.path}`,
        { field: "method", reason: `allowed: ${allow}` },
        { allow },
      );
    },
  };
}

/** Writes `error` to a Node response in the seed's error format (server.ts, before Next). */
export function writeApiError(res: ServerResponse, error: AppError): void {
  const traceId = randomUUID();
  const body = JSON.stringify({
    error: { code: error.code, message: error.message, details: error.details, timestamp: new Date().toISOString(), traceId },
  });
  res.writeHead(error.status, {
    ...error.headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "x-trace-id": traceId,
  });
  res.end(body);
}

/** The seed's error format as a raw HTTP/1.1 response, for a socket no response object exists for. */
function rawErrorResponse(error: AppError): string {
  const traceId = randomUUID();
  const body = JSON.stringify({
    error: { code: error.code, message: error.message, details: error.details, timestamp: new Date().toISOString(), traceId },
  });
  const reason = error.status === 431 ? "Request Header Fields Too Large" : "Bad Request";
  return (
    `HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nx-trace-id: ${traceId}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * The http server's `clientError` handler: a request Node cannot parse (headers over its limit,
 * a malformed request line or header) is answered in the seed's error format instead of Node's
 * bare status line. A connection that timed out or broke is just closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || error.code === "ERR_HTTP_REQUEST_TIMEOUT" || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    rawErrorResponse(
      error.code === "HPE_HEADER_OVERFLOW"
        ? new AppError("HEADERS_TOO_LARGE", "The request's headers are too large", { field: "headers", reason: "larger than the server accepts" })
        : new AppError("VALIDATION_ERROR", "The request is not valid HTTP", { field: "request", reason: String(error.code ?? "malformed") }),
    ),
  );
}
