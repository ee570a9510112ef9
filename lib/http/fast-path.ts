/**
 * A few hot routes served before Next's request handler, by the very same route handlers.
 *
 * Next spends ~1 ms of the web process's only thread per API request on routing, tracing and
 * turning the Node request and response into web streams and back (BENCHMARKS.md, query API);
 * `GET /api/v1/users/{id}/segments` is asked thousands of times a second. server.ts calls
 * {@link FastPath.handle} first: a request for one of `routes` (exact method and path) is given
 * to that route's exported handler — the same `route()` wrapper with its trace id, rate limits,
 * authentication, scope check, error format and metrics — as a plain `Request`, and the
 * `Response` is written back; anything else (other paths and methods, a trailing slash, a
 * malformed escape) is left to Next. So the answers are the Next route's by construction;
 * `fast-path.integration.test.ts` checks it over HTTP, 401 and 403 included.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** A Next route handler: `(request, { params }) → Response` (what `route()` returns). */
export type RouteHandler = (req: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

export interface FastRoute {
  method: "GET";
  /** Literal path segments, with `[name]` for a dynamic one (Next's folder syntax). */
  path: string;
  handler: RouteHandler;
}

export interface FastPath {
  /** Serves the request and returns true when it is one of the routes; false leaves it to the caller. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

interface Compiled {
  method: string;
  segments: { literal?: string; param?: string }[];
  handler: RouteHandler;
}

export function createFastPath(routes: FastRoute[], onError: (error: unknown) => void): FastPath {
  const compiled: Compiled[] = routes.map((r) => ({
    method: r.method,
    segments: r.path
      .split("/")
      .slice(1)
      .map((s) => (/^\[\w+\]$/.test(s) ? { param: s.slice(1, -1) } : { literal: s })),
    handler: r.handler,
  }));

  function match(method: string, pathname: string): { route: Compiled; params: Record<string, string> } | null {
    const parts = pathname.split("/").slice(1);
    for (const route of compiled) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.literal !== undefined) ok = seg.literal === part;
        else if (part === "") ok = false;
        else {
          try {
            params[seg.param!] = decodeURIComponent(part);
          } catch {
            ok = false; // a malformed escape: Next's answer, not ours
          }
        }
      }
      if (ok) return { route, params };
    }
    return null;
  }

  return {
    handle(req, res) {
      const url = req.url ?? "";
      if (!url.startsWith("/api/")) return false;
      const q = url.indexOf("?");
      const pathname = q === -1 ? url : url.slice(0, q);
      const found = match(req.method ?? "", pathname);
      if (!found) return false;
      // From req.headers, as Next builds a route handler's request (and so with the client
      // address server.ts wrote there, never one the client sent).
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || name.startsWith(":")) continue;
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else headers.set(name, value);
      }
      const request = new Request(`http://${req.headers.host ?? "localhost"}${url}`, { method: req.method, headers });
      found.route
        .handler(request, { params: Promise.resolve(found.params) })
        .then(async (response) => {
          const body = Buffer.from(await response.arrayBuffer());
          const out: Record<string, string | string[]> = {};
          response.headers.forEach((value, name) => {
            out[name] = value;
          });
          const cookies = response.headers.getSetCookie();
          if (cookies.length > 0) out["set-cookie"] = cookies;
          out["content-length"] = String(body.length);
          res.writeHead(response.status, out);
          res.end(body);
        })
        .catch((error: unknown) => {
          onError(error);
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        });
      return true;
    },
  };
}
