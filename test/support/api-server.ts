import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { scanApiRoutes } from "@/lib/http/api-routes";

/**
 * The app's route handlers (app/**\/route.ts) behind a real HTTP server on a random port, routed
 * the way Next routes them (route groups dropped, `[param]` segments, static segments winning
 * over dynamic ones) — for tests that drive real HTTP clients (the typed client, Segment's SDK,
 * webhook receivers calling back) without building Next. Modules are imported on first use.
 * The runtime is whatever `installRuntime` installed.
 */
export interface RouteFile {
  /** `/api/v1/segments/{segmentId}` (`{...name}` for a catch-all). */
  path: string;
  /** Path segments: literal text, or `{name}` for a parameter (`{...name}` for a catch-all). */
  segments: string[];
  file: string;
}

const APP_DIR = path.join(process.cwd(), "app");

/** Every app/**\/route.ts, as the API guard reads them (lib/http/api-routes.ts). */
export function routeFiles(appDir = APP_DIR): RouteFile[] {
  return scanApiRoutes(appDir).map(({ path: p, segments, file }) => ({ path: p, segments, file }));
}

function match(route: RouteFile, parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i]!;
    if (seg.startsWith("{...")) {
      if (i >= parts.length) return null;
      params[seg.slice(4, -1)] = parts.slice(i).join("/");
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (seg.startsWith("{")) params[seg.slice(1, -1)] = part;
    else if (seg !== part) return null;
  }
  return route.segments.length === parts.length ? params : null;
}

/** Static segments outrank parameters, position by position (Next's precedence). */
const rank = (r: RouteFile) => r.segments.map((s) => (s.startsWith("{...") ? "0" : s.startsWith("{") ? "1" : "2")).join("");

export interface ApiServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startApiServer(options: { port?: number } = {}): Promise<ApiServer> {
  const routes = routeFiles().sort((a, b) => rank(b).localeCompare(rank(a)));
  const modules = new Map<string, Promise<Record<string, unknown>>>();

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
    const parts = url.pathname.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
    let found: { route: RouteFile; params: Record<string, string> } | null = null;
    for (const route of routes) {
      const params = match(route, parts);
      if (params) {
        found = { route, params };
        break;
      }
    }
    if (!found) {
      res.writeHead(404, { "content-type": "text/plain" }).end("no route");
      return;
    }
    if (!modules.has(found.route.file)) modules.set(found.route.file, import(found.route.file));
    const mod = await modules.get(found.route.file)!;
    const handler = mod[req.method ?? "GET"] as ((r: Request, c: { params: Promise<Record<string, string>> }) => Promise<Response>) | undefined;
    if (typeof handler !== "function") {
      res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed");
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      // Node's fetch needs this for a streamed request body.
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
    const response = await handler(request, { params: Promise.resolve(found.params) });
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    res.writeHead(response.status, out);
    if (!response.body) {
      res.end();
      return;
    }
    const reader = response.body.getReader();
    res.on("close", () => void reader.cancel().catch(() => {}));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Respect backpressure: wait for the socket to drain before pulling the next chunk.
      if (!res.write(value)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      else res.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
