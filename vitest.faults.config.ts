import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

/**
 * Fault tests (npm run test:faults): the platform under a stopped broker, a restarted database,
 * killed workers, hostile requests and a pm2 reload, on PostgreSQL and Kafka instances of the
 * suite's own (test/faults/global-setup.ts). One file at a time: they stop shared engines.
 */
export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: [
      "test/faults/**/*.fault.test.ts",
      // Workers SIGKILLed mid-stream: memberships equal the oracle, no campaign send doubled.
      "lib/services/segment-processor.kill.integration.test.ts",
      "lib/services/campaign-dispatcher.kill.integration.test.ts",
    ],
    globalSetup: ["test/faults/global-setup.ts"],
    environment: "node",
    pool: "forks",
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 300_000,
  },
});
