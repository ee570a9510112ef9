/**
 * The fault suite's own PostgreSQL and Kafka: started with scripts/services.sh on ports of their
 * own and a data directory of their own, so the suite may stop and restart them without touching
 * the shared instances other suites and people use (5432 / 9092).
 *
 * FAULTS_PGPORT (3115), FAULTS_KAFKA_PORT (3116), FAULTS_KAFKA_CONTROLLER_PORT (3117),
 * FAULTS_SERVICES_DIR (.cache/faults-services) override them.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface FaultServices {
  pgPort: number;
  kafkaPort: number;
  controllerPort: number;
  dir: string;
  databaseUrl: string;
  brokers: string;
}

export function faultServices(): FaultServices {
  const pgPort = Number(process.env.FAULTS_PGPORT ?? 3115);
  const kafkaPort = Number(process.env.FAULTS_KAFKA_PORT ?? 3116);
  const controllerPort = Number(process.env.FAULTS_KAFKA_CONTROLLER_PORT ?? 3117);
  // Never the shared instances: this suite stops the services it uses.
  if (pgPort === 5432 || kafkaPort === 9092 || controllerPort === 9093) {
    throw new Error("the fault suite stops its PostgreSQL and Kafka: give it ports of its own, not 5432/9092/9093");
  }
  return {
    pgPort,
    kafkaPort,
    controllerPort,
    dir: path.resolve(ROOT, process.env.FAULTS_SERVICES_DIR ?? ".cache/faults-services"),
    databaseUrl: `postgres://audience:audience@127.0.0.1:${pgPort}/audience`,
    brokers: `127.0.0.1:${kafkaPort}`,
  };
}

/**
 * Runs `scripts/services.sh <command> [pg|kafka]` for the suite's instances (asynchronously: the
 * tests keep their traffic going meanwhile); rejects with its output when it fails. The broker
 * reuses the shared instance's jars when they are there.
 */
export function services(command: "up" | "down", which?: "pg" | "kafka"): Promise<string> {
  const s = faultServices();
  const sharedLibs = path.join(ROOT, ".cache/services/kafka/libs");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SERVICES_DIR: s.dir,
    PGPORT: String(s.pgPort),
    KAFKA_PORT: String(s.kafkaPort),
    KAFKA_CONTROLLER_PORT: String(s.controllerPort),
    KAFKA_HEAP: process.env.FAULTS_KAFKA_HEAP ?? "-Xmx384m",
    ...(existsSync(path.join(sharedLibs, ".pom.sha256")) && !process.env.KAFKA_LIBS_DIR ? { KAFKA_LIBS_DIR: sharedLibs } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(ROOT, "scripts/services.sh"), command, ...(which ? [which] : [])], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`services.sh ${command} ${which ?? ""} failed (${code}):\n${err}\n${out}`)),
    );
  });
}

/** Where the processes the tests start are recorded, so a run cut short leaves none behind. */
const pidFile = () => path.join(faultServices().dir, "pids");

export function recordPid(pid: number): void {
  mkdirSync(faultServices().dir, { recursive: true });
  appendFileSync(pidFile(), `${pid}\n`);
}

/** SIGKILLs the recorded processes still alive that are the suite's own (their environment says so). */
export function killLeftovers(): number {
  let killed = 0;
  if (!existsSync(pidFile())) return 0;
  for (const line of readFileSync(pidFile(), "utf8").split("\n")) {
    const pid = Number(line);
    if (!pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      if (!environ.includes("AM_FAULTS=1")) continue;
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      /* gone already */
    }
  }
  rmSync(pidFile(), { force: true });
  return killed;
}
