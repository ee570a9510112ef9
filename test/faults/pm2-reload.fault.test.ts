/**
 * `pm2 reload` under traffic loses and fails nothing: the platform runs as operators run it
 * (`pm2 start ecosystem.config.cjs`: two web instances in cluster mode and the workers), clients
 * keep ingesting and querying, every process is reloaded, and
 * - every request gets a 2xx answer (no 5xx, no refused or reset connection), and
 * - every acknowledged event is evaluated afterwards: each request carries three addToCart events
 *   for a fresh user and the segment needs three, so each acknowledged user ends up a member.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, cartEvents, cartSegment, members, openDeployment, until, type Deployment } from "./support";
import { ROOT } from "./services";
import { attempt, drive, tally } from "./traffic";

const PORT = Number(process.env.FAULTS_PM2_TEST_PORT ?? 3114);
const PM2 = path.join(ROOT, "node_modules", "pm2", "bin", "pm2");

describe("pm2 reload under traffic", () => {
  let dep: Deployment;
  let pm2Home: string;
  const base = `http://127.0.0.1:${PORT}`;

  /** Runs the pm2 CLI without blocking this process (the traffic loops keep running meanwhile). */
  function pm2(...args: string[]): Promise<string> {
    const child = spawn(process.execPath, [PM2, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        AM_FAULTS: "1",
        PM2_HOME: pm2Home,
        ...dep.env,
        PORT: String(PORT),
        METRICS_PORT_BASE: "0",
        WEB_INSTANCES: "2",
        PROCESSOR_INSTANCES: "1",
        DISPATCHER_INSTANCES: "1",
        WEBHOOK_INSTANCES: "1",
      } as unknown as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    return new Promise((resolve, reject) =>
      child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`pm2 ${args.join(" ")} → ${code}\n${out}`)))),
    );
  }

  beforeAll(async () => {
    dep = await openDeployment("pm2");
    pm2Home = mkdtempSync(path.join(tmpdir(), "am-pm2-"));
    await pm2("start", "ecosystem.config.cjs", "--update-env");
    await until(
      () => fetch(`${base}/api/health/ready`).then((r) => r.status, () => 0),
      (s) => s === 200,
      "the pm2-run web app to be ready",
      180_000,
    );
  }, 300_000);

  afterAll(async () => {
    if (pm2Home) {
      await pm2("kill").catch(() => undefined);
      rmSync(pm2Home, { recursive: true, force: true });
    }
    await dep?.cleanup();
  }, 120_000);

  it("answers every request with a 2xx through a reload of every process and evaluates every acknowledged event", async () => {
    const segmentId = await cartSegment(base, dep.db, `carts ${dep.tag}`);
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const traffic = drive(4, (i) =>
      i % 2 === 0
        ? attempt("ingest", `${dep.tag}-u${i}`, `${base}/api/v1/events`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ events: cartEvents(`${dep.tag}-u${i}`) }),
          })
        : attempt("query", `${dep.tag}-u${i - 1}`, `${base}/api/v1/users/${encodeURIComponent(`${dep.tag}-u${i - 1}`)}/segments`, { headers: auth }),
      { pauseMs: 20 },
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const reloadStarted = Date.now();
    await pm2("reload", "ecosystem.config.cjs", "--update-env");
    const reloadMs = Date.now() - reloadStarted;
    await new Promise((r) => setTimeout(r, 3_000));
    await traffic.stop();

    const outcomes = traffic.outcomes;
    const counts = tally(outcomes);
    const during = outcomes.filter((o) => o.startedAt >= reloadStarted && o.startedAt <= reloadStarted + reloadMs);
    console.log(`[pm2] reload took ${reloadMs} ms; ${outcomes.length} requests, ${during.length} during the reload: ${JSON.stringify(counts)}`);
    expect(during.length, "requests were sent while the reload ran").toBeGreaterThan(20);
    const failed = outcomes.filter((o) => o.status < 200 || o.status > 299);
    expect(failed.map((o) => `${o.kind} ${o.status} ${o.error ?? JSON.stringify(o.body).slice(0, 200)}`), JSON.stringify(counts)).toEqual([]);

    const acked = outcomes.filter((o) => o.kind === "ingest" && o.status === 202).map((o) => o.subject);
    expect(acked.length).toBeGreaterThan(20);
    await until(
      () => members(dep.db, segmentId),
      (m) => acked.every((u) => m.has(u)),
      "every acknowledged user to be evaluated into the segment",
      120_000,
      (m) => `${acked.filter((u) => !m.has(u)).length} of ${acked.length} missing`,
    );
  }, 400_000);
});
