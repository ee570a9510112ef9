// pm2 process file for production: `pm2 start ecosystem.config.cjs`.
// Set DATABASE_URL and KAFKA_BROKERS (and ADMIN_API_KEY) in the environment pm2 starts from.
// The web app runs in cluster mode: every instance is stateless; PostgreSQL serialises
// definition changes and a single outbox relay (advisory lock) publishes them.
// Run `npm run build` once before the first start and after every upgrade.
// Metrics: every process serves GET /metrics on its own METRICS_PORT (pm2's increment_var gives
// instance n the base port + n): web 9100+, segment processors 9110+, campaign dispatchers 9120+,
// webhook dispatchers 9130+, bound to METRICS_HOST (default 127.0.0.1), behind METRICS_TOKEN if set.
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
      increment_var: "METRICS_PORT",
      env: { NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", IN_PROCESS_WORKERS: "false", METRICS_PORT: 9100 },
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
      increment_var: "METRICS_PORT",
      env: { NODE_ENV: "production", METRICS_PORT: 9110 },
    },
    {
      name: "campaign-dispatcher",
      script: "workers/campaign-dispatcher/main.ts",
      interpreter: "node",
      interpreter_args: "--import tsx",
      exec_mode: "fork",
      instances: process.env.DISPATCHER_INSTANCES || 1,
      kill_timeout: 35000,
      increment_var: "METRICS_PORT",
      env: { NODE_ENV: "production", METRICS_PORT: 9120 },
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
      increment_var: "METRICS_PORT",
      env: { NODE_ENV: "production", METRICS_PORT: 9130 },
    },
  ],
};
