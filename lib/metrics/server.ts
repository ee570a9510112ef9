import { createServer, type Server } from "node:http";
import { createHash, timingSafeEqual } from "node:crypto";
import { metricsText } from "@/lib/metrics";

/**
 * A process's own metrics port: GET /metrics, for the workers (which serve no HTTP otherwise) and
 * for each web instance behind pm2's cluster (whose shared port lands on any one of them).
 * With a token, scrapes must send `Authorization: Bearer <token>`.
 */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export function bearerMatches(authorization: string | null | undefined, token: string): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!presented) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

function errorBody(code: string, message: string, reason: string): string {
  return JSON.stringify({ error: { code, message, details: { field: "request", reason }, timestamp: new Date().toISOString(), traceId: "metrics" } });
}

export async function startMetricsServer(options: { port: number; host: string; token?: string }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://metrics");
    if (url.pathname !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "application/json; charset=utf-8" }).end(errorBody("NOT_FOUND", "Only GET /metrics is served here", "not found"));
      return;
    }
    if (options.token && !bearerMatches(req.headers.authorization, options.token)) {
      res
        .writeHead(401, { "content-type": "application/json; charset=utf-8", "www-authenticate": "Bearer" })
        .end(errorBody("UNAUTHORIZED", "Authentication required", "METRICS_TOKEN bearer token required"));
      return;
    }
    metricsText().then(
      ({ body, contentType }) => res.writeHead(200, { "content-type": contentType }).end(req.method === "HEAD" ? undefined : body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
