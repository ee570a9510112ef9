// pm2 process file for production: `pm2 start ecosystem.config.cjs`.
// Set DATABASE_URL and KAFKA_BROKERS (and ADMIN_API_KEY) in the environment pm2 starts from.
// The web app runs in cluster mode: every instance is stateless; PostgreSQL serialises
// definition changes and a single outbox relay (advisory lock) publishes them.
// Run `npm run build` once before the first start and after every upgrade.
// Metrics: every process serves GET /metrics on its own METRICS_PORT (pm2's increment_var gives
// instance n the base port + n): web 9100+, segment processors 9110+, campaign dispatchers 9120+,
// webhook dispatchers 9130+, bound to METRICS_HOST (default 127.0.0.1), behind METRICS_TOKEN if set.
// METRICS_PORT_BASE moves them all (base, base+10, base+20, base+30); 0 turns them off.
const metricsBase = Number(process.env.METRICS_PORT_BASE ?? 9100);
const incrementMetricsPort = metricsBase > 0 ? { increment_var: "METRICS_PORT" } : {};
const metricsPort = (offset) => (metricsBase > 0 ? { METRICS_PORT: metricsBase + offset } : {});

module.exports = {
  apps: [
    {
      name: "web",
      script: "server.ts",
      interpreter: "node",
      interpreter_args: "--import tsx",
      exec_mode: "cluster",
      instances: process.env.WEB_INSTANCES || 2,
      kill_timeout: 20000,
      listen_timeout: 60000,
      // The web instances serve; the workers below evaluate.
      ...incrementMetricsPort,
      env: { NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", IN_PROCESS_WORKERS: "false", ...metricsPort(0) },
    },
    {
      name: "segment-processor",
      script: "workers/segment-processor/main.ts",
      interpreter: "node",
      interpreter_args: "--import tsx",
      exec_mode: "fork",
      // Kafka's consumer group spreads the user-events partitions over the instances.
      instances: process.env.PROCESSOR_INSTANCES || 2,
      kill_timeout: 35000,
      ...incrementMetricsPort,
      env: { NODE_ENV: "production", ...metricsPort(10) },
    },
    {
      name: "campaign-dispatcher",
      script: "workers/campaign-dispatcher/main.ts",
      interpreter: "node",
      interpreter_args: "--import tsx",
      exec_mode: "fork",
      instances: process.env.DISPATCHER_INSTANCES || 1,
      kill_timeout: 35000,
      ...incrementMetricsPort,
      env: { NODE_ENV: "production", ...metricsPort(20) },
    },
    {
      // Membership webhooks: its own consumer group on segment-memberships; deliveries are
      // claimed with row locks, so several instances share the work.
      name: "webhook-dispatcher",
      script: "workers/webhook-dispatcher/main.ts",
      interpreter: "node",
      interpreter_args: "--import tsx",
      exec_mode: "fork",
      instances: process.env.WEBHOOK_INSTANCES || 1,
      kill_timeout: 35000,
      ...incrementMetricsPort,
      env: { NODE_ENV: "production", ...metricsPort(30) },
    },
  ],
};
