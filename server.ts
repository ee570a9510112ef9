/**
 * The web process: Next.js (pages and the REST API) on one port, with the process's runtime
 * (database, event log, outbox relay; in embedded mode the workers too) started before the
 * first request. Wiring only: behaviour lives in lib/.
 */
import { createServer } from "node:http";
import path from "node:path";
import next from "next";
import { logger } from "@/lib/log";
import { onShutdown, parseEnvOrExit } from "@/lib/process";
import { createRuntime, installRuntime } from "@/lib/runtime";
import { startRealtime } from "@/lib/realtime/server";
import { CLIENT_IP_HEADER, clientIp } from "@/lib/http/client-ip";
import { startMetricsServer } from "@/lib/metrics/server";
import { createFastPath } from "@/lib/http/fast-path";
import { drainable } from "@/lib/http/graceful";
import { answerClientError, createApiGuard, scanApiRoutes, writeApiError } from "@/lib/http/api-routes";
import { GET as userSegmentsGET } from "@/app/api/v1/users/[userId]/segments/route";

async function main() {
  const env = parseEnvOrExit();
  const log = logger();
  const dev = env.NODE_ENV === "development";
  const rt = await createRuntime(env);
  installRuntime(rt);
  log.info(
    {
      database: rt.db.kind,
      eventLog: env.KAFKA_BROKERS ? "kafka" : "local",
      dataDir: env.DATABASE_URL && env.KAFKA_BROKERS ? undefined : env.DATA_DIR,
    },
    "runtime ready",
  );

  const app = next({ dev, dir: process.cwd(), hostname: env.HOST, port: env.PORT });
  await app.prepare();
  const handle = app.getRequestHandler();
  // The hottest read, served by its own route handler without Next's per-request cost (lib/http/fast-path.ts).
  const fast = createFastPath([{ method: "GET", path: "/api/v1/users/[userId]/segments", handler: userSegmentsGET }], (err) =>
    log.error({ err }, "request handler failed"),
  );
  // Unknown API paths, methods a route does not export and malformed path escapes, answered in
  // the seed's error format instead of Next's HTML 404, empty 405 and plain-text 500.
  const apiGuard = createApiGuard(scanApiRoutes(path.join(process.cwd(), "app")));
  const server = createServer((req, res) => {
    // What the rate limits key on; always overwritten, so a client cannot choose it.
    req.headers[CLIENT_IP_HEADER] = clientIp(req.socket.remoteAddress, req.headers["x-forwarded-for"], env.TRUST_PROXY_HOPS);
    const refusal = apiGuard.check(req.method ?? "GET", req.url ?? "/");
    if (refusal) return writeApiError(res, refusal);
    if (fast.handle(req, res)) return;
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, "request handler failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  // Requests Node cannot parse (headers too large, malformed) answered in the seed's format too.
  server.on("clientError", answerClientError);
  // Stopped without failing a request (pm2 reload): lib/http/graceful.ts.
  const http = drainable(server);
  // WebSocket /ws/segments/{id}/realtime and /ws/users/{id}/segments (docs/realtime.md).
  const realtime = await startRealtime(server, rt);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, resolve);
  });
  log.info({ url: `http://localhost:${env.PORT}` }, "Audience Manager is serving");
  // Each instance's own metrics (pm2 cluster: /api/metrics answers from whichever instance got the request).
  const metricsServer = env.METRICS_PORT
    ? await startMetricsServer({ port: env.METRICS_PORT, host: env.METRICS_HOST, token: env.METRICS_TOKEN })
    : null;

  onShutdown(async (signal) => {
    log.info({ signal }, "shutting down");
    // Stop taking connections, answer what arrives on open ones (with Connection: close) and what
    // is in flight; then the runtime: workers finish their batch and commit, clients close.
    await Promise.all([realtime.close(), http.drain({ idleGraceMs: 2_000, timeoutMs: 10_000 })]);
    await metricsServer?.close();
    await rt.close();
    await app.close();
  }, 15_000);
}

main().catch((error: unknown) => {
  console.error("Audience Manager failed to start:", error);
  process.exit(1);
});
