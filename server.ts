/**
 * The web process: Next.js (pages and the REST API) on one port, with the process's runtime
 * (database, event log, outbox relay; in embedded mode the workers too) started before the
 * first request. Wiring only: behaviour lives in lib/.
 */
import { createServer } from "node:http";
import next from "next";
import { EnvError, parseEnv, type Env } from "@/lib/env";
import { logger } from "@/lib/log";
import { createRuntime, installRuntime } from "@/lib/runtime";

async function main() {
  let env: Env;
  try {
    env = parseEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
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
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, "request handler failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, resolve);
  });
  log.info({ url: `http://localhost:${env.PORT}` }, "Audience Manager is serving");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await rt.close();
    await app.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error("Audience Manager failed to start:", error);
  process.exit(1);
});
