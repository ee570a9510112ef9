import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

/** Browser end-to-end tests (npm run test:e2e): one file at a time, each with its own app. */
export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    environment: "node",
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});
