/**
 * The webhook dispatcher worker (pm2: `webhook-dispatcher`). Wiring only: read the environment,
 * build the adapters, start lib/services/webhook-dispatcher (consumer group
 * WEBHOOK_DISPATCHER_GROUP on segment-memberships), stop cleanly on SIGINT/SIGTERM.
 */
import { logger } from "@/lib/log";
import { onShutdown, parseEnvOrExit } from "@/lib/process";
import { createRuntime } from "@/lib/runtime";
import { startMetricsServer } from "@/lib/metrics/server";

async function main() {
  const env = parseEnvOrExit();
  const log = logger().child({ process: "webhook-dispatcher" });
  if (!env.KAFKA_BROKERS || !env.DATABASE_URL) {
    console.error("The webhook-dispatcher worker needs DATABASE_URL and KAFKA_BROKERS; without them `npm start` runs it in-process.");
    process.exit(1);
  }
  // The runtime starts the in-process workers; here only the webhook dispatcher is wanted.
  const rt = await createRuntime(env, { workers: true, only: "webhooks" });
  // Prometheus scrapes GET /metrics here (pm2 gives each instance its own METRICS_PORT).
  const metrics = env.METRICS_PORT
    ? await startMetricsServer({ port: env.METRICS_PORT, host: env.METRICS_HOST, token: env.METRICS_TOKEN })
    : null;
  log.info({ group: env.WEBHOOK_DISPATCHER_GROUP, encryptedSecrets: Boolean(env.WEBHOOK_SECRET_KEY) }, "webhook dispatcher started");
  onShutdown(async (signal) => {
    log.info({ signal }, "webhook dispatcher stopping");
    await rt.close();
    await metrics?.close();
  }, 30_000);
}

main().catch((error: unknown) => {
  console.error("webhook dispatcher failed to start:", error);
  process.exit(1);
});
