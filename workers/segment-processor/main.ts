/**
 * The segment processor worker (pm2: `segment-processor`). Wiring only: read the environment,
 * build the adapters, start lib/services/segment-processor, stop cleanly on SIGINT/SIGTERM
 * (stop consuming, finish the in-flight batch, persist, checkpoint, close clients).
 * Several processes share the user-events partitions through the Kafka consumer group.
 */
import { logger } from "@/lib/log";
import { onShutdown, parseEnvOrExit } from "@/lib/process";
import { createRuntime } from "@/lib/runtime";
import { startMetricsServer } from "@/lib/metrics/server";

const STATUS_INTERVAL_MS = 60_000;

async function main() {
  const env = parseEnvOrExit();
  const log = logger().child({ process: "segment-processor" });
  if (!env.KAFKA_BROKERS || !env.DATABASE_URL) {
    // Embedded mode runs the processor inside the web process (one process owns DATA_DIR).
    console.error("The segment-processor worker needs DATABASE_URL and KAFKA_BROKERS; without them `npm start` runs it in-process.");
    process.exit(1);
  }
  const rt = await createRuntime(env, { workers: true, only: "processor" });
  // Prometheus scrapes GET /metrics here (pm2 gives each instance its own METRICS_PORT).
  const metrics = env.METRICS_PORT
    ? await startMetricsServer({ port: env.METRICS_PORT, host: env.METRICS_HOST, token: env.METRICS_TOKEN })
    : null;
  log.info({ status: rt.processor?.status() }, "segment processor started");
  // The counters operators watch: events applied, dropped as older than 24 h, rejected and
  // dead-lettered (by reason), transitions, timer fires.
  const report = setInterval(() => {
    const { backfill: _backfill, ...status } = rt.processor!.status();
    log.info({ status }, "segment processor status");
  }, STATUS_INTERVAL_MS);
  report.unref();

  onShutdown(async (signal) => {
    clearInterval(report);
    log.info({ signal }, "segment processor stopping");
    await rt.close();
    await metrics?.close();
  }, 30_000);
}

main().catch((error: unknown) => {
  console.error("segment processor failed to start:", error);
  process.exit(1);
});
