/**
 * Shared by bench/e2e.ts and bench/query.ts: runs the platform as it runs in production — the
 * web process (`server.ts`, NODE_ENV=production, the built .next) and segment-processor workers
 * (`workers/segment-processor/main.ts`) as child processes — against the real PostgreSQL and
 * Kafka of `bash scripts/services.sh up`, with everything the run creates thrown away after:
 *
 *   - a fresh database `am_bench_<run>` created through DATABASE_URL (the role has CREATEDB)
 *     and dropped at the end;
 *   - Kafka topics of its own (KAFKA_TOPIC_PREFIX=`am-bench-<run>.`, created by the web process
 *     with `partitions` partitions) and a consumer group of its own for the processors
 *     (SEGMENT_PROCESSOR_GROUP); topics and groups are deleted at the end;
 *   - children stopped with SIGTERM, then SIGKILL after a grace period, also when the bench
 *     fails or is interrupted.
 *
 * Also here: a keep-alive HTTP client (node:http), a listener on `segment-memberships` that
 * timestamps transitions as they arrive, CPU accounting per process from /proc, percentiles.
 * Every target is 127.0.0.1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, readdirSync, existsSync } from "node:fs";
import http from "node:http";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Kafka, logLevel, type Admin, type Consumer } from "kafkajs";
import pg from "pg";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- small helpers ---------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1]! : NaN,
  };
}

export const fmt = (ms: number, digits = 1) => (Number.isFinite(ms) ? ms.toFixed(digits) : "–");

/** Refuses anything but loopback: the benches only ever talk to this machine. */
export function assertLoopback(what: string, hostPort: string): void {
  const host = hostPort.replace(/^[a-z]+:\/\/([^@/]*@)?/i, "").replace(/[:/].*$/, "");
  if (host !== "127.0.0.1" && host !== "localhost") throw new Error(`${what} must be on 127.0.0.1 (got ${host})`);
}

// ---- HTTP ------------------------------------------------------------------------------------

export interface HttpResult {
  status: number;
  body: string;
}

/** A minimal keep-alive client: node:http with a bounded socket pool, no per-request extras. */
export class HttpClient {
  readonly agent: http.Agent;
  constructor(
    readonly port: number,
    readonly key: string,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
  }

  request(method: string, urlPath: string, body?: string, timeoutMs = 30_000): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${this.key}` };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: "127.0.0.1", port: this.port, method, path: urlPath, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  async json<T>(method: string, urlPath: string, body?: unknown, want = [200, 201]): Promise<T> {
    const r = await this.request(method, urlPath, body === undefined ? undefined : JSON.stringify(body));
    if (!want.includes(r.status)) throw new Error(`${method} ${urlPath}: ${r.status} ${r.body.slice(0, 500)}`);
    return JSON.parse(r.body) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---- child processes -------------------------------------------------------------------------

interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  /** Counted as the output streams by (also past the log cap). */
  counts: { rejected: number; deadLettered: number; errors: number };
}

/** Each child's log is capped: a processor retrying a failing batch logs a stack trace every few 100 ms. */
const LOG_CAP_BYTES = 20 * 1024 * 1024;

const children = new Set<Child>();
let hooksInstalled = false;
const cleanups: (() => Promise<void>)[] = [];

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Last resort: whatever is still running when this process exits is killed.
  process.on("exit", () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
  });
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the platform`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
}

let cleaning: Promise<void> | null = null;
function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: unknown) => console.error("cleanup:", e));
  })();
  return cleaning;
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = path.join(logDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const counts = { rejected: 0, deadLettered: 0, errors: 0 };
  let written = 0;
  const count = (re: RegExp, text: string) => text.match(re)?.length ?? 0;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    counts.rejected += count(/handler rejected/g, text);
    counts.deadLettered += count(/"msg":"dead-lettered"/g, text);
    counts.errors += count(/"level":50/g, text);
    if (written < LOG_CAP_BYTES) {
      written += chunk.length;
      out.write(written >= LOG_CAP_BYTES ? `${text}\n[bench: log capped at ${LOG_CAP_BYTES} bytes]\n` : chunk);
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const child: Child = { name, proc, logFile, exited, counts };
  children.add(child);
  void exited.then(() => children.delete(child));
  // After "close", not "exit": the output may still be arriving when the process has exited.
  proc.once("close", () => out.end());
  return child;
}

async function stopChild(c: Child, graceMs: number): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill("SIGTERM");
  const done = await Promise.race([c.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    console.error(`${c.name} (pid ${c.proc.pid}) did not stop within ${graceMs} ms of SIGTERM; SIGKILL`);
    c.proc.kill("SIGKILL");
    await Promise.race([c.exited, sleep(5000)]);
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

// ---- CPU accounting --------------------------------------------------------------------------

const CLK_TCK = 100;

/**
 * CPU seconds of a process and of its children that have exited (utime + stime + cutime +
 * cstime), or 0 when it is gone: short-lived processes (test workers, compilers) then still
 * count, under their parent's role.
 */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Not for pid 1: it reaps every orphan on the machine.
    const children = pid === 1 ? 0 : Number(fields[13]) + Number(fields[14]);
    return (Number(fields[11]) + Number(fields[12]) + children) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Busy seconds of the whole machine (all cores). */
function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = line as number[];
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLK_TCK;
}

type CpuGroups = Record<string, number>;
/** pid → [role, cpu seconds, command] of the processes seen by the last cpuByRole(). */
let lastPerPid = new Map<number, [string, number, string]>();

/** CPU seconds by role: our children by name, this process, postgres, kafka, everything else. */
function cpuByRole(named: Map<number, string>): CpuGroups {
  const out: CpuGroups = {};
  const add = (k: string, v: number) => (out[k] = (out[k] ?? 0) + v);
  let total = 0;
  const perPid = new Map<number, [string, number, string]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const s = cpuSeconds(pid);
    if (s === 0) continue;
    total += s;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue;
    }
    const role =
      named.get(pid) ??
      (pid === process.pid
        ? "bench"
        : cmd === ""
          ? "kernel"
          : /^postgres|\/bin\/postgres /.test(cmd)
            ? "postgres"
            : cmd.includes("kafka.Kafka")
              ? "kafka"
              : "other");
    add(role, s);
    perPid.set(pid, [role, s, cmd]);
  }
  out.__all = total;
  lastPerPid = perPid;
  return out;
}

/** CPU use per role between start() and stop(), in cores (1.0 = one core busy all the time). */
export class CpuMeter {
  private t0 = 0;
  private before: CpuGroups = {};
  private busy0 = 0;
  private pids0 = new Map<number, [string, number, string]>();
  constructor(private readonly named: () => Map<number, string>) {}
  start(): void {
    this.t0 = performance.now();
    this.before = cpuByRole(this.named());
    this.pids0 = lastPerPid;
    this.busy0 = machineBusySeconds();
  }
  stop(): { seconds: number; cores: Record<string, number>; machineBusyCores: number; others: string[] } {
    const seconds = (performance.now() - this.t0) / 1000;
    const after = cpuByRole(this.named());
    const others = [...lastPerPid]
      .filter(([, [role]]) => role === "other")
      .map(([pid, [, s, cmd]]) => ({ pid, cores: (s - (this.pids0.get(pid)?.[1] ?? 0)) / seconds, cmd }))
      .filter((x) => x.cores >= 0.05)
      .sort((a, b) => b.cores - a.cores)
      .slice(0, 3)
      .map((x) => `${x.cores.toFixed(2)} cores: ${x.cmd.slice(0, 80)}`);
    const cores: Record<string, number> = {};
    for (const k of new Set([...Object.keys(after), ...Object.keys(this.before)])) {
      if (k === "__all") continue;
      // Processes that exited in between are missing from `after`; clamp at 0.
      cores[k] = Math.max(0, ((after[k] ?? 0) - (this.before[k] ?? 0)) / seconds);
    }
    return { seconds, cores, machineBusyCores: (machineBusySeconds() - this.busy0) / seconds, others };
  }
}

/** Processes not started by this bench that used a lot of CPU over a short sample (other work on the machine). */
export async function otherLoad(sampleMs = 1000): Promise<{ cores: number; top: string[] }> {
  const snap = () => {
    const m = new Map<number, number>();
    for (const e of readdirSync("/proc")) if (/^\d+$/.test(e)) m.set(Number(e), cpuSeconds(Number(e)));
    return m;
  };
  const a = snap();
  await sleep(sampleMs);
  const b = snap();
  const busy: { pid: number; cores: number }[] = [];
  for (const [pid, s] of b) {
    const d = (s - (a.get(pid) ?? s)) / (sampleMs / 1000);
    if (d > 0.05 && pid !== process.pid) busy.push({ pid, cores: d });
  }
  busy.sort((x, y) => y.cores - x.cores);
  const top = busy.slice(0, 5).map(({ pid, cores }) => {
    let cmd = "?";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 90);
    } catch {
      /* gone */
    }
    return `${cores.toFixed(2)} cores  pid ${pid}  ${cmd}`;
  });
  return { cores: busy.reduce((s, x) => s + x.cores, 0), top };
}

/**
 * Samples other load until it is below `maxCores` or `waitS` seconds have passed (the machine is
 * shared; results taken while something else runs are not comparable). Returns the last sample.
 */
export async function waitForQuiet(waitS: number, maxCores = 0.3): Promise<{ cores: number; top: string[] }> {
  const deadline = performance.now() + waitS * 1000;
  let announced = false;
  for (;;) {
    const load = await otherLoad(1500);
    if (load.cores <= maxCores || performance.now() >= deadline) {
      if (load.cores > maxCores) {
        console.error(`warning: other processes use ${load.cores.toFixed(2)} cores of this machine right now:`);
        for (const line of load.top) console.error(`  ${line}`);
      }
      return load;
    }
    if (!announced) {
      console.error(`waiting up to ${waitS} s for other load (${load.cores.toFixed(2)} cores) to drop below ${maxCores}: ${load.top[0] ?? ""}`);
      announced = true;
    }
    await sleep(3000);
  }
}

// ---- the platform ----------------------------------------------------------------------------

export interface PlatformOptions {
  /** Port of the web process. */
  port: number;
  /** Number of segment-processor worker processes (0: none). */
  workers: number;
  /** Write V8 CPU profiles of the children into this folder (node --cpu-prof). */
  cpuProfDir?: string;
  /** Extra environment for every child. */
  env?: Record<string, string>;
  /** Sockets of the bench's HTTP client. */
  maxSockets?: number;
  /** Partitions of the run's topics (KAFKA_PARTITIONS). Default 6. */
  partitions?: number;
}

export interface Platform {
  run: string;
  key: string;
  port: number;
  dbName: string;
  dbUrl: string;
  group: string;
  /** KAFKA_TOPIC_PREFIX of the run: the broker's name of a topic is `${topicPrefix}${name}`. */
  topicPrefix: string;
  logDir: string;
  http: HttpClient;
  /** A small pool on the bench's database (readiness checks, counts). */
  db: pg.Pool;
  kafka: Kafka;
  admin: Admin;
  brokers: string[];
  /** pid → role, for CPU accounting. */
  roles(): Map<number, string>;
  /** Starts `workers` worker processes (after the segments exist, so they load them at start). */
  startWorkers(): Promise<void>;
  /** Stops the running workers gracefully (they checkpoint and commit their position). */
  stopWorkers(): Promise<void>;
  /**
   * Warnings the children logged that make a run suspect: a handler that rejected batches
   * (and redelivers them), dead letters, error lines.
   */
  problems(): string[];
  /** Why the run cannot be trusted (the processors dead-lettered something), or null. */
  contaminated(): string | null;
  /** Stops every child, drops the database, deletes the bench's topics and consumer groups. Idempotent. */
  stop(): Promise<void>;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  installHooks();
  const adminUrl = process.env.DATABASE_URL;
  const brokersText = process.env.KAFKA_BROKERS;
  if (!adminUrl || !brokersText) {
    throw new Error('DATABASE_URL and KAFKA_BROKERS must be set: eval "$(bash scripts/services.sh up)"');
  }
  assertLoopback("DATABASE_URL", adminUrl);
  const brokers = brokersText.split(",").map((b) => b.trim()).filter(Boolean);
  for (const b of brokers) assertLoopback("KAFKA_BROKERS", b);
  const distDir = process.env.NEXT_DIST_DIR || ".next";
  if (!existsSync(path.join(ROOT, distDir, "BUILD_ID"))) {
    throw new Error(`no production build in ${distDir}: run \`npm run build\` (with the same NEXT_DIST_DIR) first`);
  }

  const run = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const key = `bench-admin-key-${randomBytes(12).toString("hex")}`;
  const dbName = `am_bench_${run}`;
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const group = `am-bench-${run}`;
  const topicPrefix = `am-bench-${run}.`;
  const logDir = path.join(tmpdir(), `am-bench-${run}`);
  mkdirSync(logDir, { recursive: true });

  const adminClient = new pg.Client({ connectionString: adminUrl });
  await adminClient.connect();
  await adminClient.query(`create database ${dbName}`);
  await adminClient.end();

  const kafka = new Kafka({ clientId: `am-bench-${run}`, brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();

  const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  db.on("error", () => {});
  const httpClient = new HttpClient(options.port, key, options.maxSockets ?? 64);

  const webChildren: Child[] = [];
  const workerChildren: Child[] = [];
  let stopped: Promise<void> | null = null;

  const stop = () => {
    stopped ??= (async () => {
      httpClient.close();
      // Workers first (they finish their batch and checkpoint), then the web process.
      await Promise.all(workerChildren.map((c) => stopChild(c, 35_000)));
      await Promise.all(webChildren.map((c) => stopChild(c, 20_000)));
      await db.end().catch(() => {});
      const workerPids = workerChildren.map((c) => c.proc.pid);
      try {
        const { groups } = await admin.listGroups();
        const host = hostname();
        const ours = groups
          .map((g) => g.groupId)
          .filter((g) => g === group || workerPids.some((pid) => g.startsWith(`segment-processor-defs-${host}-${pid}-`)));
        if (ours.length > 0) await admin.deleteGroups(ours).catch(() => {});
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
        if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {});
      } catch {
        /* best effort */
      }
      await admin.disconnect().catch(() => {});
      // Plain DROP DATABASE waits for (and stops) an autovacuum worker; WITH (FORCE) would need
      // the right to signal it. A few attempts cover connections still closing.
      const c = new pg.Client({ connectionString: adminUrl });
      try {
        await c.connect();
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`drop database if exists ${dbName}`);
            break;
          } catch (e) {
            if (attempt >= 10) throw e;
            await sleep(1000);
          }
        }
      } catch (e) {
        console.error(`could not drop database ${dbName}: ${(e as Error).message}`);
      } finally {
        await c.end().catch(() => {});
      }
    })();
    return stopped;
  };
  cleanups.push(stop);

  const childEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    HOST: "127.0.0.1",
    PORT: String(options.port),
    DATABASE_URL: dbUrl,
    KAFKA_BROKERS: brokers.join(","),
    KAFKA_TOPIC_PREFIX: topicPrefix,
    KAFKA_PARTITIONS: String(options.partitions ?? 6),
    NEXT_DIST_DIR: distDir,
    // The benches measure capacity, not the per-key / per-IP limiter (one key, one address here).
    RATE_LIMIT_PER_KEY: "0",
    RATE_LIMIT_INGEST_PER_KEY: "0",
    RATE_LIMIT_PER_IP: "0",
    IN_PROCESS_WORKERS: "false",
    ADMIN_API_KEY: key,
    LOG_LEVEL: "warn",
    SEGMENT_PROCESSOR_GROUP: group,
    SEGMENT_PROCESSOR_START: "end",
    ...options.env,
  });
  const nodeArgs = (entry: string, name: string) => [
    // One folder per process: tsx's loader thread writes a profile of its own next to the main one.
    ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.join(options.cpuProfDir, name)}`] : []),
    "--import",
    "tsx",
    entry,
  ];

  try {
    const web = startChild("web", nodeArgs("server.ts", "web"), childEnv(), logDir);
    webChildren.push(web);
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (web.proc.exitCode !== null) throw new Error(`the web process exited (${web.proc.exitCode}):\n${tail(web.logFile)}`);
      if (Date.now() > deadline) throw new Error(`the web process did not answer within 120 s:\n${tail(web.logFile)}`);
      const r = await httpClient.request("GET", "/api/v1/segments?pageSize=1", undefined, 5000).catch(() => null);
      if (r?.status === 200) break;
      await sleep(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const platform: Platform = {
    run,
    key,
    port: options.port,
    dbName,
    dbUrl,
    group,
    topicPrefix,
    logDir,
    http: httpClient,
    db,
    kafka,
    admin,
    brokers,
    roles() {
      const m = new Map<number, string>();
      for (const c of webChildren) if (c.proc.pid) m.set(c.proc.pid, "web");
      for (const c of workerChildren) if (c.proc.pid) m.set(c.proc.pid, "worker");
      // tsx starts an esbuild service per process; count it with its parent.
      for (const e of readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
          const stat = readFileSync(`/proc/${e}/stat`, "utf8");
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          const parent = m.get(ppid);
          if (parent && !m.has(Number(e))) m.set(Number(e), parent);
        } catch {
          /* gone */
        }
      }
      return m;
    },
    async startWorkers() {
      if (options.workers === 0) return;
      const started: Child[] = [];
      for (let i = 0; i < options.workers; i++) {
        const name = `worker-${workerChildren.length}`;
        const child = startChild(name, nodeArgs("workers/segment-processor/main.ts", name), childEnv(), logDir);
        workerChildren.push(child);
        started.push(child);
      }
      // Ready when every worker is a member of the (stable) group: each has loaded the
      // definitions and pinned its start offsets by then.
      const deadline = Date.now() + 90_000;
      for (;;) {
        for (const c of started) {
          if (c.proc.exitCode !== null) throw new Error(`${c.name} exited (${c.proc.exitCode}):\n${tail(c.logFile)}`);
        }
        const { groups } = await admin.describeGroups([group]);
        const g = groups[0];
        if (g && g.state === "Stable" && g.members.length === options.workers) break;
        if (Date.now() > deadline) throw new Error(`workers did not join group ${group} within 90 s:\n${tail(started[0]!.logFile)}`);
        await sleep(250);
      }
    },
    async stopWorkers() {
      // SIGTERM: each finishes its batch, checkpoints (state + offset) and leaves the group.
      await Promise.all(workerChildren.map((c) => stopChild(c, 35_000)));
    },
    problems() {
      const out: string[] = [];
      for (const c of [...webChildren, ...workerChildren]) {
        const { rejected, deadLettered, errors } = c.counts;
        if (rejected || deadLettered || errors) {
          out.push(`${c.name}: ${rejected} rejected batches, ${deadLettered} dead letters, ${errors} error lines (${c.logFile})`);
        }
      }
      return out;
    },
    contaminated() {
      const dead = workerChildren.reduce((n, c) => n + c.counts.deadLettered, 0);
      return dead === 0
        ? null
        : `the processors dead-lettered ${dead} messages or writes (see their logs): every event the bench sends ` +
            "is valid and every segment exists, so something is broken and the run is not valid.";
    },
    stop,
  };
  return platform;
}

/** Stops everything started so far (for `finally` blocks and fatal errors). */
export const stopAll = runCleanups;

/**
 * A benchmark's whole life: wait for the machine to be quiet, start the platform, run `bench`,
 * stop everything (also on failure, naming the children's logs), exit 0 or 1.
 */
export function runPlatformBench(
  waitQuietS: number,
  options: PlatformOptions,
  bench: (p: Platform, otherCores: number) => Promise<void>,
): void {
  const main = async () => {
    const other = await waitForQuiet(waitQuietS);
    const p = await startPlatform(options);
    let failed = false;
    try {
      await bench(p, other.cores);
    } catch (error) {
      failed = true;
      console.error(error);
      console.error(`children's logs: ${p.logDir}`);
    } finally {
      await stopAll();
    }
    process.exit(failed ? 1 : 0);
  };
  main().catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
}

// ---- segments and events ---------------------------------------------------------------------

export interface BenchSegments {
  /** ≥ 3 addToCart in 60 min. */
  cart: string;
  /** sum of orders.value > 100 in 24 h. */
  spender: string;
  /** cart AND spender. */
  hot: string;
  /** ≥ 1 install in 24 h and ≥ 5 clicks in 30 min. */
  engaged: string;
  /** cart AND NOT spender. */
  abandoner: string;
}

export async function createBenchSegments(p: Platform): Promise<BenchSegments> {
  const post = (body: unknown) => p.http.json<{ id: string }>("POST", "/api/v1/segments", body, [201]).then((s) => s.id);
  const cart = await post({
    name: `bench ${p.run} cart adders`,
    rules: [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }],
  });
  const spender = await post({
    name: `bench ${p.run} big spenders`,
    rules: [{ eventType: "orders", attribute: "sum", field: "value", operator: "GT", value: 100, windowMinutes: 1440 }],
  });
  const engaged = await post({
    name: `bench ${p.run} engaged installers`,
    rules: [
      { eventType: "installs", attribute: "count", operator: "GTE", value: 1, windowMinutes: 1440 },
      { eventType: "clicks", attribute: "count", operator: "GTE", value: 5, windowMinutes: 30 },
    ],
  });
  const hot = await post({ name: `bench ${p.run} hot carts`, logicalExpression: `${cart} AND ${spender}` });
  const abandoner = await post({ name: `bench ${p.run} abandoners`, logicalExpression: `${cart} AND NOT ${spender}` });
  return { cart, spender, hot, engaged, abandoner };
}

/** One background event as JSON text: clicks 55 %, addToCart 25 %, orders 15 %, installs 5 %. */
export function backgroundEvent(userId: string, ts: number): string {
  const r = Math.random();
  const type = r < 0.55 ? "clicks" : r < 0.8 ? "addToCart" : r < 0.95 ? "orders" : "installs";
  const value = 1 + Math.floor(Math.random() * 100);
  return `{"userId":"${userId}","eventType":"${type}","timestamp":${ts},"attributes":{"value":${value}}}`;
}

export const eventJson = (userId: string, type: string, ts: number, value = 1) =>
  `{"userId":"${userId}","eventType":"${type}","timestamp":${ts},"attributes":{"value":${value}}}`;

// ---- segment-memberships listener ------------------------------------------------------------

export interface MembershipArrival {
  userId: string;
  segmentId: string;
  kind: "enter" | "exit";
  /** performance.now() when the message reached this process. */
  arrivedAt: number;
}

/**
 * Reads `segment-memberships` from its end as of start(), counting the transitions whose key
 * (the user id) starts with `countPrefix`, and handing those starting with `probePrefix` to
 * `onProbe` with their arrival time.
 */
export class MembershipListener {
  transitions = 0;
  private consumer: Consumer | null = null;
  private readonly groupId: string;

  constructor(
    private readonly p: Platform,
    private readonly countPrefix: string,
    private readonly probePrefix: string,
    private readonly onProbe: (a: MembershipArrival) => void,
  ) {
    this.groupId = `am-bench-listen-${p.run}`;
  }

  async start(): Promise<void> {
    const topic = `${this.p.topicPrefix}segment-memberships`;
    const ends = await this.p.admin.fetchTopicOffsets(topic);
    const consumer = this.p.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 50, sessionTimeout: 10_000 });
    this.consumer = consumer;
    let joined!: () => void;
    const join = new Promise<void>((r) => (joined = r));
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const e of ends) consumer.seek({ topic, partition: e.partition, offset: e.high });
      joined();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    const countPrefix = Buffer.from(this.countPrefix);
    const probePrefix = Buffer.from(this.probePrefix);
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const m of batch.messages) {
          const k = m.key;
          if (!k) continue;
          if (k.subarray(0, probePrefix.length).equals(probePrefix)) {
            this.transitions++;
            const v = JSON.parse(m.value!.toString("utf8")) as { userId: string; segmentId: string; kind: "enter" | "exit" };
            this.onProbe({ userId: v.userId, segmentId: v.segmentId, kind: v.kind, arrivedAt: now });
          } else if (k.subarray(0, countPrefix.length).equals(countPrefix)) {
            this.transitions++;
          }
        }
      },
    });
    await Promise.race([join, sleep(30_000).then(() => Promise.reject(new Error("membership listener did not join")))]);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => {});
    await this.p.admin.deleteGroups([this.groupId]).catch(() => {});
  }
}

// ---- where PostgreSQL time goes ---------------------------------------------------------------

const STATEMENT_CLASSES: [string, RegExp][] = [
  ["archive insert (user_events)", /insert into user_events/i],
  ["archive purge (user_events)", /delete from "?user_events/i],
  ["memberships apply", /(insert into|delete from) user_segment_memberships/i],
  ["memberships query (API)", /from user_segment_memberships\s+where user_id/i],
  ["history record", /(insert into|update) user_segment_history/i],
  ["checkpoint save", /processor_checkpoints/i],
  ["outbox relay", /outbox/i],
  ["segment names (API)", /from "?segments"?/i],
  ["transaction control", /^(begin|commit|rollback)/i],
];

/**
 * Samples pg_stat_activity of the bench database every `intervalMs`: the average number of
 * sessions active in each kind of statement (1.0 = one session busy all the time), with what
 * they were waiting on. A cheap profile of where the processors' and the API's database time goes.
 */
export class PgActivitySampler {
  private timer: NodeJS.Timeout | null = null;
  private samples = 0;
  private active = new Map<string, number>();
  private waits = new Map<string, number>();
  private busy = false;
  constructor(
    private readonly p: Platform,
    private readonly intervalMs = 50,
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }
  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const r = await this.p.db.query<{ query: string; wait: string | null }>(
        `select query, case when wait_event is null then null else wait_event_type || ':' || wait_event end as wait
           from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
      );
      this.samples++;
      for (const row of r.rows) {
        const q = row.query.trim();
        const cls = STATEMENT_CLASSES.find(([, re]) => re.test(q))?.[0] ?? `other: ${q.replace(/\s+/g, " ").slice(0, 60)}`;
        this.active.set(cls, (this.active.get(cls) ?? 0) + 1);
        if (row.wait) this.waits.set(`${cls} — ${row.wait}`, (this.waits.get(`${cls} — ${row.wait}`) ?? 0) + 1);
      }
    } catch {
      /* a missed sample */
    } finally {
      this.busy = false;
    }
  }
  stop(): { samples: number; active: [string, number][]; waits: [string, number][] } {
    if (this.timer) clearInterval(this.timer);
    const avg = (m: Map<string, number>) =>
      [...m].map(([k, v]) => [k, v / Math.max(1, this.samples)] as [string, number]).sort((a, b) => b[1] - a[1]);
    return { samples: this.samples, active: avg(this.active), waits: avg(this.waits).slice(0, 8) };
  }
}

// ---- processed events ------------------------------------------------------------------------

/**
 * Events the processors have applied so far: every applied event is archived into `user_events`
 * of the bench's own database, so the table's insert counter is the processors' progress
 * (statistics are flushed about once a second).
 */
export async function archivedEvents(p: Platform): Promise<number> {
  const r = await p.db.query<{ n: string }>(
    "select coalesce(sum(n_tup_ins), 0)::bigint as n from pg_stat_user_tables where relname = 'user_events'",
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Partitions of `user-events`: the most segment-processor processes that can share the work. */
export async function userEventPartitions(p: Platform): Promise<number> {
  const md = await p.admin.fetchTopicMetadata({ topics: [`${p.topicPrefix}user-events`] });
  return md.topics[0]?.partitions.length ?? 0;
}

export async function countRows(p: Platform, sqlText: string, params: unknown[] = []): Promise<number> {
  const r = await p.db.query<{ n: string }>(sqlText, params);
  return Number(r.rows[0]?.n ?? 0);
}
