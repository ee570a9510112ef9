/**
 * Before the fault suite: its own PostgreSQL and Kafka (test/faults/services.ts) and a current
 * production build of the web app (the tests start server.ts and pm2 as an operator would).
 * DATABASE_URL and KAFKA_BROKERS point at the suite's instances for every test file, the kill
 * tests it includes from lib/services too. Stopped again afterwards unless
 * FAULTS_KEEP_SERVICES=1 (quicker reruns).
 *
 * The build goes to FAULTS_NEXT_DIST_DIR (.next-faults); CI points it at the end-to-end tests'
 * build, which is current by then, so nothing is built twice. FAULTS_SKIP_BUILD=1 uses the
 * build as it is.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { faultServices, killLeftovers, ROOT, services } from "./services";

export default async function setup() {
  const s = faultServices();
  const t0 = Date.now();
  const leftovers = killLeftovers();
  if (leftovers > 0) console.log(`[faults] killed ${leftovers} processes an interrupted run left behind`);
  await services("up");
  const servicesMs = Date.now() - t0;
  process.env.DATABASE_URL = s.databaseUrl;
  process.env.KAFKA_BROKERS = s.brokers;
  const distDir = process.env.FAULTS_NEXT_DIST_DIR ?? ".next-faults";
  process.env.FAULTS_NEXT_DIST_DIR = distDir;

  const t1 = Date.now();
  if (process.env.FAULTS_SKIP_BUILD !== "1") {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/start.mjs"), "--build-only"], {
      cwd: ROOT,
      env: { ...process.env, NEXT_DIST_DIR: distDir, NEXT_SKIP_TYPECHECK: "1", NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 900_000,
    });
    if (r.status !== 0) throw new Error(`the production build failed (${r.status ?? r.signal})`);
  }
  console.log(
    `[faults] PostgreSQL ${s.databaseUrl} and Kafka ${s.brokers} up in ${(servicesMs / 1000).toFixed(1)} s; ` +
      `build ${distDir} ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
  );

  return async () => {
    killLeftovers();
    if (process.env.FAULTS_KEEP_SERVICES === "1") return;
    await services("down");
  };
}
