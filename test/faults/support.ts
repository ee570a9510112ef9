/**
 * Processes and checks for the fault tests: a fresh database on the suite's PostgreSQL, the web
 * process (server.ts on the production build) and the workers (workers/*\/main.ts) started as
 * an operator starts them, each with a topic prefix and consumer groups of its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openPostgres, type DatabaseHandle } from "@/db/client";
import { KafkaEventLog } from "@/lib/adapters/event-log/kafka";
import { ALL_TOPICS } from "@/lib/topics";
import { faultServices, recordPid, ROOT } from "./services";

export const ADMIN_KEY = "faults-admin-key-0123456789abcdef";

/** A deployment's worth of isolation on the suite's engines: database, topics, groups, DATA_DIR. */
export interface Deployment {
  tag: string;
  databaseUrl: string;
  db: DatabaseHandle;
  /** The environment every process of this deployment gets. */
  env: Record<string, string>;
  dataDir: string;
  /** Drops the database and the topics. */
  cleanup(): Promise<void>;
}

export async function openDeployment(name: string, extraEnv: Record<string, string> = {}): Promise<Deployment> {
  const s = faultServices();
  const tag = `${name}-${randomBytes(3).toString("hex")}`;
  const dbName = `am_faults_${tag.replace(/-/g, "_")}`;
  const admin = await openPostgres(s.databaseUrl, { max: 1 });
  await admin.exec(`create database ${dbName}`);
  const url = new URL(s.databaseUrl);
  url.pathname = `/${dbName}`;
  const db = await openPostgres(url.toString(), { max: 2 });
  await db.migrate();
  const dataDir = mkdtempSync(path.join(tmpdir(), `am-faults-${name}-`));
  const topicPrefix = `faults-${tag}.`;
  const env: Record<string, string> = {
    DATABASE_URL: url.toString(),
    KAFKA_BROKERS: s.brokers,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    KAFKA_PARTITIONS: "4",
    SEGMENT_PROCESSOR_GROUP: `faults-${tag}-processor`,
    CAMPAIGN_DISPATCHER_GROUP: `faults-${tag}-dispatcher`,
    WEBHOOK_DISPATCHER_GROUP: `faults-${tag}-webhooks`,
    ADMIN_API_KEY: ADMIN_KEY,
    DATA_DIR: dataDir,
    IN_PROCESS_WORKERS: "false",
    // The tests drive more traffic from one address than a client should: no rate limits.
    RATE_LIMIT_PER_IP: "0",
    RATE_LIMIT_PER_KEY: "0",
    RATE_LIMIT_INGEST_PER_KEY: "0",
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    NEXT_DIST_DIR: process.env.FAULTS_NEXT_DIST_DIR ?? ".next-faults",
    HOST: "127.0.0.1",
    ...extraEnv,
  };
  return {
    tag,
    databaseUrl: url.toString(),
    db,
    env,
    dataDir,
    async cleanup() {
      await db.close();
      await admin.exec(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
      await admin.close();
      const log = new KafkaEventLog({ brokers: [s.brokers], clientId: `faults-cleanup-${tag}`, topicPrefix, log: () => undefined });
      await log.deleteTopics(ALL_TOPICS).catch(() => undefined);
      await log.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Node with tsx, as package.json's scripts and pm2's ecosystem run the entry points. */
function spawnNode(script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, script)], {
    cwd: ROOT,
    // AM_FAULTS marks the suite's processes (killLeftovers).
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", AM_FAULTS: "1", ...env } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  recordPid(child.pid!);
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
    if (process.env.FAULTS_DEBUG) process.stderr.write(`[${script}] ${d.toString()}`);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** server.ts on `port`; resolves once /api/health/live answers. */
export async function startServer(env: Record<string, string>, port: number): Promise<Proc & { url: string }> {
  const proc = spawnNode("server.ts", { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 180_000;
  for (;;) {
    if (!proc.alive()) throw new Error(`server.ts exited:\n${proc.output().slice(-4000)}`);
    const ok = await fetch(`${url}/api/health/live`).then((r) => r.ok, () => false);
    if (ok) return Object.assign(proc, { url });
    if (Date.now() > until) {
      await proc.stop(1000);
      throw new Error(`server.ts did not answer on ${url}:\n${proc.output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A worker entry point (workers/…/main.ts); resolves once it logs `readyText`. */
export async function startWorkerProcess(script: string, env: Record<string, string>, readyText: string): Promise<Proc> {
  // Info level for the start line; the workers log little else at info.
  const proc = spawnNode(script, { ...env, LOG_LEVEL: "info" });
  const until = Date.now() + 120_000;
  while (!proc.output().includes(readyText)) {
    if (!proc.alive()) throw new Error(`${script} exited:\n${proc.output().slice(-4000)}`);
    if (Date.now() > until) {
      await proc.stop(1000);
      throw new Error(`${script} did not start:\n${proc.output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/** JSON call with the admin key; returns status, parsed body (or text) and headers. */
export async function api(
  baseUrl: string,
  method: string,
  pathname: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: kept as text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Whether a body is the seed's error format, exactly: {"error":{"code","message","details","timestamp","traceId"}}. */
export function isSeedError(body: unknown): boolean {
  if (!body || typeof body !== "object" || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== "error") return false;
  const e = (body as { error: unknown }).error as Record<string, unknown> | null;
  if (!e || typeof e !== "object") return false;
  return (
    Object.keys(e).sort().join(",") === "code,details,message,timestamp,traceId" &&
    typeof e.code === "string" &&
    /^[A-Z_]+$/.test(e.code) &&
    typeof e.message === "string" &&
    !!e.details &&
    typeof e.details === "object" &&
    !Array.isArray(e.details) &&
    typeof e.timestamp === "string" &&
    !Number.isNaN(Date.parse(e.timestamp)) &&
    typeof e.traceId === "string" &&
    e.traceId.length > 0
  );
}

/** The cart segment the tests fill: 3 addToCart within 60 minutes. */
export const CART_RULE = { eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 } as const;

/** Three addToCart events for `userId`, now: one request's worth, which puts the user in CART_RULE's segment. */
export function cartEvents(userId: string) {
  const now = Date.now();
  return [0, 1, 2].map((i) => ({ userId, eventType: "addToCart", timestamp: now - i * 1000, attributes: { sku: `sku-${i}` } }));
}

/** Current members of a segment, straight from the serving table. */
export async function members(db: DatabaseHandle, segmentId: string): Promise<Set<string>> {
  const { sql } = await import("drizzle-orm");
  const r = (await db.db.execute(sql`select user_id from user_segment_memberships where segment_id = ${segmentId}`)) as unknown as {
    rows: { user_id: string }[];
  };
  return new Set(r.rows.map((x) => x.user_id));
}

/** Waits until `ok`, polling `probe`; throws naming `what` with the last value. */
export async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs: number, describe?: (v: T) => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${describe ? `: ${describe(v)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Creates the cart segment over HTTP and waits until the processors evaluate with it (a probe user enters). */
export async function cartSegment(baseUrl: string, db: DatabaseHandle, name: string): Promise<string> {
  const created = await api(baseUrl, "POST", "/api/v1/segments", { name, rules: [CART_RULE] });
  if (created.status !== 201) throw new Error(`creating the segment: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  const probe = `probe-${name.replace(/\W/g, "-")}`;
  // A new segment is evaluated at once from retained state: events before or after the definition reaches the processor both count.
  const sent = await api(baseUrl, "POST", "/api/v1/events", { events: cartEvents(probe) });
  if (sent.status !== 202) throw new Error(`ingesting the probe: ${sent.status} ${JSON.stringify(sent.body)}`);
  await until(
    () => members(db, id),
    (m) => m.has(probe),
    `the processor to evaluate segment ${name}`,
    90_000,
  );
  return id;
}
