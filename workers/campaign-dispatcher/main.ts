/**
 * The campaign dispatcher worker (pm2: `campaign-dispatcher`). Wiring only: read the
 * environment, build the adapters and channel providers, start
 * lib/services/campaign-dispatcher, stop cleanly on SIGINT/SIGTERM.
 */
import { logger } from "@/lib/log";
import { onShutdown, parseEnvOrExit } from "@/lib/process";
import { createRuntime } from "@/lib/runtime";
import { startMetricsServer } from "@/lib/metrics/server";

const STATUS_INTERVAL_MS = 60_000;

async function main() {
  const env = parseEnvOrExit();
  const log = logger().child({ process: "campaign-dispatcher" });
  if (!env.KAFKA_BROKERS || !env.DATABASE_URL) {
    console.error("The campaign-dispatcher worker needs DATABASE_URL and KAFKA_BROKERS; without them `npm start` runs it in-process.");
    process.exit(1);
  }
  // The runtime starts the in-process workers; here only the dispatcher is wanted.
  const rt = await createRuntime(env, { workers: true, only: "dispatcher" });
  // Prometheus scrapes GET /metrics here (pm2 gives each instance its own METRICS_PORT).
  const metrics = env.METRICS_PORT
    ? await startMetricsServer({ port: env.METRICS_PORT, host: env.METRICS_HOST, token: env.METRICS_TOKEN })
    : null;
  log.info({ channels: [...rt.campaignDeps.channels] }, "campaign dispatcher started");
  // The counters operators watch: transitions read, messages dead-lettered (by reason), sends
  // that failed before reaching a provider.
  const report = setInterval(() => log.info({ status: rt.dispatcher?.status() }, "campaign dispatcher status"), STATUS_INTERVAL_MS);
  report.unref();
  onShutdown(async (signal) => {
    clearInterval(report);
    log.info({ signal }, "campaign dispatcher stopping");
    await rt.close();
    await metrics?.close();
  }, 30_000);
}

main().catch((error: unknown) => {
  console.error("campaign dispatcher failed to start:", error);
  process.exit(1);
});
