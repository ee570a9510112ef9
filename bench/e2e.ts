/**
 * npm run bench:e2e — end to end on real Kafka and PostgreSQL: HTTP batch ingest
 * (POST /api/v1/events) → segment processors → membership visible through the query API
 * (GET /api/v1/users/{id}/segments). Target (seed): ≥ 50,000 events/s sustained with p99
 * event-to-membership latency ≤ 1 s.
 *
 * Needs `eval "$(bash scripts/services.sh up)"` (DATABASE_URL, KAFKA_BROKERS) and `npm run build`.
 * bench/platform.ts starts the web process and `--workers` segment-processor processes on a
 * fresh database and a consumer group of their own (no replay of the shared topic), and removes
 * both at the end. Five segments are created: ≥ 3 addToCart in 60 min ("cart"), sum of
 * orders.value > 100 in 24 h ("spender"), ≥ 1 install in 24 h and ≥ 5 clicks in 30 min, and two
 * derived ones (cart AND spender = "hot", cart AND NOT spender).
 *
 * Load: `--connections` keep-alive HTTP connections post batches of `--batch` events for
 * `--users` background users (clicks 55 %, addToCart 25 %, orders 15 %, installs 5 %), either
 * as fast as they are accepted (`--rate 0`, closed loop) or at a fixed rate of events/s
 * (`--rate N`, open loop: batches are sent on schedule; a send due while `--connections`
 * requests are already in flight is counted as missed, not queued).
 *
 * Latency probes: `--probes` new probe users per second. A probe is primed with two addToCart
 * and one orders (value 150) event; once that batch is acknowledged (and 300 ms later) its third
 * addToCart goes out in a regular batch. Event-to-membership latency = from the moment that
 * batch's request starts to the arrival of the probe's "enter cart" (and "enter hot", derived)
 * transition on `segment-memberships`, read by this process with kafkajs. The processor publishes
 * a transition only after writing the membership row, so on arrival the query API is asked once
 * to confirm the membership is visible; every `--poll-every`-th probe is also polled through the
 * query API every 25 ms from the acknowledgement, which gives the API-visible latency directly.
 * Only probes triggered after `--warmup` seconds count.
 *
 * Processed events: every applied event is archived into `user_events` of the bench database,
 * so that table's insert counter (pg_stat_user_tables, flushed about every second) tracks the
 * processors. After ingestion stops the bench waits (at most `--drain` s) for the processors to
 * catch up and for every probe.
 *
 * `--split`: the workers join their group and stop; ingestion runs alone (the web process and
 * Kafka's capacity), then the workers start on the backlog (the processors' and PostgreSQL's
 * capacity: backlog ÷ time from their first progress until caught up). No probes.
 *
 * Also reported: CPU per process group over the measured window (/proc, cores and µs per
 * event), "other" = processes this bench did not start (the machine may be shared), the
 * statements PostgreSQL sessions were busy with (pg_stat_activity sampled every 50 ms) and the
 * processors' checkpoint sizes. `--wait-quiet S` waits up to S seconds for other load to drop
 * below 0.3 cores before starting. A run whose processors receive another deployment's segment
 * definitions (shared `segment-updates` topic: membership writes then fail on a foreign key and
 * the batch is redelivered forever) is aborted as invalid. `--cpu-prof DIR` writes V8 CPU
 * profiles of the web and worker processes (one folder per process).
 *
 * Usage: npm run bench:e2e -- [--duration 60] [--warmup 10] [--rate 0] [--connections 8]
 *          [--batch 1000] [--users 100000] [--workers 2] [--probes 20] [--poll-every 10]
 *          [--drain 120] [--port 3310] [--split] [--wait-quiet 120] [--cpu-prof DIR]
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import {
  CpuMeter,
  MembershipListener,
  PgActivitySampler,
  archivedEvents,
  backgroundEvent,
  countRows,
  createBenchSegments,
  eventJson,
  fmt,
  sleep,
  runPlatformBench,
  summary,
  userEventPartitions,
  type BenchSegments,
  type MembershipArrival,
  type Platform,
} from "./platform";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    warmup: { type: "string", default: "10" },
    rate: { type: "string", default: "0" },
    connections: { type: "string", default: "8" },
    batch: { type: "string", default: "1000" },
    users: { type: "string", default: "100000" },
    workers: { type: "string", default: "2" },
    partitions: { type: "string", default: "6" },
    probes: { type: "string", default: "20" },
    "poll-every": { type: "string", default: "10" },
    drain: { type: "string", default: "120" },
    port: { type: "string", default: "3310" },
    "cpu-prof": { type: "string" },
    split: { type: "boolean", default: false },
    "wait-quiet": { type: "string", default: "120" },
  },
});

const DURATION_S = bounded("duration", 5, 600);
const WARMUP_S = Math.min(bounded("warmup", 0, 300), DURATION_S - 1);
const RATE = bounded("rate", 0, 10_000_000);
const CONNECTIONS = bounded("connections", 1, 64);
const BATCH = bounded("batch", 1, 1000);
const USERS = bounded("users", 1, 100_000_000);
const WORKERS = bounded("workers", 0, 16);
const PARTITIONS = bounded("partitions", 1, 256);
const SPLIT = args.split === true;
const PROBES_PER_S = SPLIT ? 0 : bounded("probes", 0, 1000);
const POLL_EVERY = bounded("poll-every", 0, 1_000_000);
const DRAIN_S = bounded("drain", 1, 1800);
const PORT = bounded("port", 1024, 65535);
const TRIGGER_DELAY_MS = 300;
const POLL_INTERVAL_MS = 25;
const POLL_LIMIT_MS = 10_000;

function bounded(name: keyof typeof args, min: number, max: number): number {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
  return v;
}

interface Probe {
  id: string;
  /** Primed, waiting for the trigger's due time. */
  triggerDueAt?: number;
  triggerSentAt?: number;
  triggerAckedAt?: number;
  counted: boolean;
  cartAt?: number;
  hotAt?: number;
  apiVisibleAt?: number;
  verified?: boolean;
  polled: boolean;
  failed?: string;
}

interface Sample {
  t: number;
  accepted: number;
  archived: number;
  transitions: number;
}


async function bench(p: Platform, otherCores: number) {
  const segs = await createBenchSegments(p);
  await p.startWorkers();
  // --split: the workers join (and commit their start position), then stop until ingestion is over.
  if (SPLIT) await p.stopWorkers();
  const bgPrefix = `b${p.run}-`;
  const probePrefix = `p${p.run}-`;

  const probes = new Map<string, Probe>();
  const listener = new MembershipListener(p, bgPrefix, probePrefix, (a) => onArrival(p, segs, probes, a));
  await listener.start();
  console.error(
    `platform up: web :${p.port}, ${WORKERS} worker(s), database ${p.dbName}, group ${p.group}; ` +
      `ingesting for ${DURATION_S} s (${WARMUP_S} s warm-up), ${RATE ? `${RATE} events/s` : "closed loop"}, ` +
      `${CONNECTIONS} connections × ${BATCH} events, ${USERS} users`,
  );

  // ---- probes ----
  let probeSeq = 0;
  const primeQueue: Probe[] = [];
  const primed: Probe[] = []; // ordered by triggerDueAt
  const t0 = performance.now();
  const measureFrom = t0 + WARMUP_S * 1000;
  const end = t0 + DURATION_S * 1000;
  const probeTimer =
    PROBES_PER_S > 0
      ? setInterval(() => {
          if (performance.now() >= end - TRIGGER_DELAY_MS - 200) return;
          const k = probeSeq++;
          const probe: Probe = { id: `${probePrefix}${k}`, counted: false, polled: POLL_EVERY > 0 && k % POLL_EVERY === 0 };
          probes.set(probe.id, probe);
          primeQueue.push(probe);
        }, 1000 / PROBES_PER_S)
      : null;

  // ---- batches ----
  let accepted = 0;
  let acceptedInWindow = 0;
  let rejected = 0;
  let missed = 0;
  let inFlight = 0;
  const statuses = new Map<number, number>();
  const requestMs: number[] = [];

  const send = async () => {
    const now = Date.now();
    const parts: string[] = [];
    const primes = primeQueue.splice(0, Math.floor(BATCH / 4));
    for (const pr of primes) {
      parts.push(eventJson(pr.id, "addToCart", now - 3000), eventJson(pr.id, "orders", now - 2000, 150), eventJson(pr.id, "addToCart", now - 1000));
    }
    const nowPerf = performance.now();
    const triggers: Probe[] = [];
    while (primed.length > 0 && primed[0]!.triggerDueAt! <= nowPerf && parts.length < BATCH) {
      const pr = primed.shift()!;
      triggers.push(pr);
      parts.push(eventJson(pr.id, "addToCart", now));
    }
    while (parts.length < BATCH) parts.push(backgroundEvent(`${bgPrefix}${Math.floor(Math.random() * USERS)}`, now));
    const body = `{"events":[${parts.join(",")}]}`;
    const sentAt = performance.now();
    for (const pr of triggers) {
      pr.triggerSentAt = sentAt;
      pr.counted = sentAt >= measureFrom;
    }
    inFlight++;
    let status = 0;
    try {
      status = (await p.http.request("POST", "/api/v1/events", body)).status;
    } catch {
      status = -1;
    } finally {
      inFlight--;
    }
    const ackAt = performance.now();
    requestMs.push(ackAt - sentAt);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status === 202) {
      accepted += parts.length;
      if (sentAt >= measureFrom && ackAt <= end) acceptedInWindow += parts.length;
      for (const pr of primes) {
        pr.triggerDueAt = ackAt + TRIGGER_DELAY_MS;
        primed.push(pr);
      }
      for (const pr of triggers) {
        pr.triggerAckedAt = ackAt;
        if (pr.polled) void poll(p, segs, pr);
      }
    } else {
      rejected += parts.length;
      for (const pr of [...primes, ...triggers]) pr.failed = `HTTP ${status}`;
    }
  };

  // ---- sampling ----
  const samples: Sample[] = [];
  const sample = async () =>
    samples.push({ t: performance.now(), accepted, archived: await archivedEvents(p), transitions: listener.transitions });
  await sample();
  let lastPrint = 0;
  const sampler = setInterval(() => {
    void sample().then(() => {
      const s = samples.at(-1)!;
      if (s.t - lastPrint < 4900) return;
      const prev = samples.find((x) => x.t >= s.t - 5000) ?? samples[0]!;
      const dt = (s.t - prev.t) / 1000 || 1;
      lastPrint = s.t;
      console.error(
        `t=${((s.t - t0) / 1000).toFixed(0).padStart(3)} s  accepted ${rate(s.accepted - prev.accepted, dt)}/s  ` +
          `processed ${rate(s.archived - prev.archived, dt)}/s  backlog ${(s.accepted - s.archived).toLocaleString("en-US")}  ` +
          `transitions ${rate(s.transitions - prev.transitions, dt)}/s  probes ${[...probes.values()].filter((x) => x.cartAt).length}/${probes.size}`,
      );
    });
  }, 1000);

  // ---- ingestion ----
  const cpu = new CpuMeter(() => p.roles());
  let cpuResult: ReturnType<CpuMeter["stop"]> | null = null;
  const pgActivity = new PgActivitySampler(p);
  let pgResult: ReturnType<PgActivitySampler["stop"]> | null = null;
  const cpuStart = setTimeout(() => {
    cpu.start();
    pgActivity.start();
  }, Math.max(0, measureFrom - performance.now()));
  const cpuStop = new Promise<void>((resolve) =>
    setTimeout(() => {
      cpuResult = cpu.stop();
      pgResult = pgActivity.stop();
      resolve();
    }, Math.max(0, end - performance.now())),
  );

  if (RATE === 0) {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end && !p.contaminated()) await send();
      }),
    );
  } else {
    const batchesPerMs = RATE / BATCH / 1000;
    let issued = 0;
    const pending = new Set<Promise<void>>();
    while (performance.now() < end && !p.contaminated()) {
      const due = Math.floor((performance.now() - t0) * batchesPerMs);
      for (; issued < due; issued++) {
        if (inFlight >= CONNECTIONS) {
          missed++;
          continue;
        }
        const s = send();
        pending.add(s);
        void s.finally(() => pending.delete(s));
      }
      await sleep(2);
    }
    await Promise.all(pending);
  }
  const ingestEnd = performance.now();
  const contaminated = p.contaminated();
  if (contaminated) throw new Error(contaminated);
  if (probeTimer) clearInterval(probeTimer);
  clearTimeout(cpuStart);
  await cpuStop;
  await sample();
  const atEnd = samples.at(-1)!;
  console.error(`ingestion stopped; waiting up to ${DRAIN_S} s for the processors and the probes`);

  // ---- drain ----
  let split: { startedAt: number; firstProgressAt: number | null; cpu: CpuMeter; pg: PgActivitySampler; from: number } | null = null;
  if (SPLIT) {
    split = { startedAt: performance.now(), firstProgressAt: null, cpu: new CpuMeter(() => p.roles()), pg: new PgActivitySampler(p), from: atEnd.archived };
    console.error(`starting ${WORKERS} worker(s) on a backlog of ${(accepted - atEnd.archived).toLocaleString("en-US")} events`);
    await p.startWorkers();
    split.cpu.start();
    split.pg.start();
  }
  let splitCpu: ReturnType<CpuMeter["stop"]> | null = null;
  const drainDeadline = performance.now() + DRAIN_S * 1000;
  let caughtUpAt: number | null = null;
  let lastExact = 0;
  let exact = 0;
  let statsSeen = -1;
  let statsMovedAt = performance.now();
  for (;;) {
    await sleep(500);
    const contaminated = p.contaminated();
    if (contaminated) throw new Error(contaminated);
    // A backend reports its insert counts at most once a second while busy, and only after ~10 s
    // once idle: when the counter stands still short of the goal, count the rows (every 2 s).
    if (samples.at(-1)!.archived !== statsSeen) {
      statsSeen = samples.at(-1)!.archived;
      statsMovedAt = performance.now();
    }
    const stalled = performance.now() - statsMovedAt > 1500;
    if (samples.at(-1)!.archived < accepted && stalled && performance.now() - lastExact > 2000) {
      exact = await countRows(p, "select count(*) as n from user_events");
      lastExact = performance.now();
    }
    const archived = Math.max(samples.at(-1)!.archived, exact);
    if (split && split.firstProgressAt === null && archived > split.from) split.firstProgressAt = samples.at(-1)!.t;
    if (split && splitCpu === null && archived >= accepted) {
      splitCpu = split.cpu.stop();
      pgResult = split.pg.stop();
    }
    const waiting = [...probes.values()].filter((x) => x.triggerSentAt !== undefined && !x.failed && (!x.cartAt || !x.hotAt || x.verified === undefined));
    if (caughtUpAt === null && archived >= accepted) caughtUpAt = exact >= accepted ? lastExact : samples.at(-1)!.t;
    if ((caughtUpAt !== null && waiting.length === 0) || performance.now() > drainDeadline) break;
  }
  clearInterval(sampler);
  await sample();
  await listener.stop();
  if (split && splitCpu === null) {
    splitCpu = split.cpu.stop();
    pgResult = split.pg.stop();
  }

  // ---- results ----
  const windowS = (end - measureFrom) / 1000;
  const at = (t: number) => samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best), samples[0]!);
  const w0 = at(measureFrom);
  const w1 = at(end);
  const processedInWindow = w1.archived - w0.archived;
  const transitionsInWindow = w1.transitions - w0.transitions;
  const final = samples.at(-1)!;
  const ours = await countRows(p, "select count(*) as n from user_events where user_id like $1 or user_id like $2", [`${bgPrefix}%`, `${probePrefix}%`]);

  const counted = [...probes.values()].filter((x) => x.counted && !x.failed);
  const cartLat = counted.filter((x) => x.cartAt !== undefined).map((x) => x.cartAt! - x.triggerSentAt!);
  const hotLat = counted.filter((x) => x.hotAt !== undefined).map((x) => x.hotAt! - x.triggerSentAt!);
  const ackToCart = counted.filter((x) => x.cartAt !== undefined && x.triggerAckedAt !== undefined).map((x) => x.cartAt! - x.triggerAckedAt!);
  const apiLat = counted.filter((x) => x.apiVisibleAt !== undefined).map((x) => x.apiVisibleAt! - x.triggerSentAt!);
  const missing = counted.filter((x) => x.cartAt === undefined).length;
  const verified = counted.filter((x) => x.verified === true).length;
  const notVisible = counted.filter((x) => x.verified === false).length;
  const req = summary(requestMs);
  const members = await countRows(p, "select count(*) as n from user_segment_memberships");
  const snapshots = (
    await p.db.query<{ partition: number; bytes: number }>(
      "select partition, length(snapshot) as bytes from processor_checkpoints order by partition",
    )
  ).rows;

  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`| ${k} | ${v} |`);
  lines.push("", `### bench:e2e ${new Date().toISOString()}`, "");
  const partitions = await userEventPartitions(p);
  lines.push(
    `Setup: web + ${WORKERS} worker(s) (user-events has ${partitions} partitions); ${RATE ? `offered ${RATE.toLocaleString("en-US")} events/s (open loop)` : "closed loop"}, ` +
      `${CONNECTIONS} connections × ${BATCH}-event batches, ${USERS.toLocaleString("en-US")} users, ${DURATION_S} s ` +
      `(first ${WARMUP_S} s not counted), ${PROBES_PER_S} probes/s.`,
    "",
    "| measure | value |",
    "|---|---|",
  );
  row("accepted (HTTP 202) events/s in the window", rate(acceptedInWindow, windowS));
  row("processed (archived by the workers) events/s in the window", rate(processedInWindow, windowS));
  row("backlog when ingestion stopped (accepted − processed)", (atEnd.accepted - atEnd.archived).toLocaleString("en-US"));
  row(
    "caught up after ingestion stopped",
    caughtUpAt === null ? `no (within ${DRAIN_S} s; ${(accepted - final.archived).toLocaleString("en-US")} left)` : `${fmt((caughtUpAt - ingestEnd) / 1000)} s`,
  );
  row("end-to-end processed events/s (all accepted ÷ time until caught up)", caughtUpAt === null ? "–" : rate(accepted, (caughtUpAt - t0) / 1000));
  row("membership transitions/s in the window", rate(transitionsInWindow, windowS));
  row("events: accepted / rejected / missed sends", `${accepted.toLocaleString("en-US")} / ${rejected.toLocaleString("en-US")} / ${(missed * BATCH).toLocaleString("en-US")}`);
  row("HTTP statuses", [...statuses].map(([s, n]) => `${s === -1 ? "error" : s}×${n}`).join(", "));
  row("POST /api/v1/events ms p50 / p95 / p99 / max", `${fmt(req.p50)} / ${fmt(req.p95)} / ${fmt(req.p99)} / ${fmt(req.max)}`);
  const lat = (xs: number[]) => {
    const s = summary(xs);
    return `${fmt(s.p50, 0)} / ${fmt(s.p95, 0)} / ${fmt(s.p99, 0)} / ${fmt(s.max, 0)} (n=${s.n})`;
  };
  row("**event → membership (enter cart) ms p50 / p95 / p99 / max**", `**${lat(cartLat)}**`);
  row("event → derived membership (enter hot) ms p50 / p95 / p99 / max", lat(hotLat));
  row("202 → membership (enter cart) ms p50 / p95 / p99 / max", lat(ackToCart));
  const polled = counted.filter((x) => x.polled && x.triggerAckedAt !== undefined).length;
  row(
    "event → visible via GET /users/{id}/segments (polled every 25 ms for up to 10 s) ms",
    `${lat(apiLat)}${apiLat.length < polled ? `; ${polled - apiLat.length} of ${polled} polled probes not visible within 10 s` : ""}`,
  );
  row("probes: counted / no transition / visible via API on arrival / not visible", `${counted.length} / ${missing} / ${verified} / ${notVisible}`);
  if (cpuResult) {
    const c = cpuResult as ReturnType<CpuMeter["stop"]>;
    row(SPLIT ? "CPU while ingesting alone, cores" : "CPU in the window, cores", cpuText(c));
    const inRate = acceptedInWindow / windowS;
    const outRate = SPLIT ? inRate : processedInWindow / windowS;
    row(
      SPLIT ? "CPU µs per accepted event while ingesting alone" : "CPU µs per event (web, kafka, bench: per accepted; worker, postgres: per processed)",
      (["web", "kafka", "bench", ...(SPLIT ? [] : ["worker", "postgres"])] as const)
        .map((k) => `${k} ${Math.round(((c.cores[k] ?? 0) * 1e6) / (k === "worker" || k === "postgres" ? outRate : inRate))}`)
        .join(", "),
    );
  }
  if (split && splitCpu) {
    const c = splitCpu as ReturnType<CpuMeter["stop"]>;
    const drained = accepted - split.from;
    const busyS = caughtUpAt !== null && split.firstProgressAt !== null ? (caughtUpAt - split.firstProgressAt) / 1000 : NaN;
    row("**processing alone: events/s** (backlog ÷ time from first progress to caught up)", `**${Number.isFinite(busyS) ? rate(drained, busyS) : "–"}** (${drained.toLocaleString("en-US")} events in ${fmt(busyS)} s; workers started in ${fmt(((split.firstProgressAt ?? NaN) - split.startedAt) / 1000)} s)`);
    row("CPU while processing alone, cores", cpuText(c));
    if (Number.isFinite(busyS)) {
      const r = drained / busyS;
      row("CPU µs per processed event while processing alone", ["worker", "postgres", "kafka"].map((k) => `${k} ${Math.round(((c.cores[k] ?? 0) * 1e6) / r)}`).join(", "));
    }
  }
  row("other load before start, cores", otherCores.toFixed(2));
  row("our events archived / memberships rows at the end", `${ours.toLocaleString("en-US")} / ${members.toLocaleString("en-US")}`);
  row(
    "checkpoint snapshot per partition (gzip; written every 5 s, blocking the partition)",
    snapshots.map((x) => `p${x.partition} ${(Number(x.bytes) / 1e6).toFixed(1)} MB`).join(", ") || "–",
  );
  for (const problem of p.problems()) lines.push("", `**Warning** — ${problem}`);
  if (pgResult) {
    const g = pgResult as ReturnType<PgActivitySampler["stop"]>;
    lines.push("", `PostgreSQL sessions active ${SPLIT ? "while processing alone" : "in the window"}, by statement (average over ${g.samples} samples of pg_stat_activity):`, "");
    lines.push("| statement | active sessions |", "|---|---|");
    for (const [k, v] of g.active.slice(0, 10)) lines.push(`| ${k} | ${v.toFixed(2)} |`);
    if (g.waits.length > 0) {
      lines.push("", "| statement — wait event | sessions waiting |", "|---|---|");
      for (const [k, v] of g.waits) lines.push(`| ${k} | ${v.toFixed(2)} |`);
    }
  }
  console.log(lines.join("\n"));
}

async function onArrival(p: Platform, segs: BenchSegments, probes: Map<string, Probe>, a: MembershipArrival) {
  const probe = probes.get(a.userId);
  if (!probe || a.kind !== "enter" || probe.triggerSentAt === undefined) return;
  if (a.segmentId === segs.hot) probe.hotAt ??= a.arrivedAt;
  if (a.segmentId !== segs.cart || probe.cartAt !== undefined) return;
  probe.cartAt = a.arrivedAt;
  // The transition is published after the membership row is written: it must be visible now.
  try {
    const r = await p.http.json<{ segments: { segmentId: string }[] }>("GET", `/api/v1/users/${encodeURIComponent(probe.id)}/segments`);
    probe.verified = r.segments.some((s) => s.segmentId === segs.cart);
  } catch {
    probe.verified = false;
  }
}

async function poll(p: Platform, segs: BenchSegments, probe: Probe) {
  const until = performance.now() + POLL_LIMIT_MS;
  while (performance.now() < until) {
    try {
      const r = await p.http.request("GET", `/api/v1/users/${encodeURIComponent(probe.id)}/segments`);
      if (r.status === 200 && r.body.includes(segs.cart)) {
        probe.apiVisibleAt = performance.now();
        return;
      }
    } catch {
      /* retried */
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function cpuText(c: ReturnType<CpuMeter["stop"]>): string {
  const order = ["web", "worker", "postgres", "kafka", "bench", "kernel", "other"];
  const known = order.reduce((sum, k) => sum + (c.cores[k] ?? 0), 0);
  return (
    order.filter((k) => c.cores[k] !== undefined).map((k) => `${k} ${c.cores[k]!.toFixed(2)}`).join(", ") +
    `, unattributed ${Math.max(0, c.machineBusyCores - known).toFixed(2)} (machine busy ${c.machineBusyCores.toFixed(2)} of ${cpus().length})` +
    (c.others.length ? `; other = ${c.others.join("; ")}` : "")
  );
}

function rate(n: number, seconds: number): string {
  return Math.round(n / seconds).toLocaleString("en-US");
}

runPlatformBench(bounded("wait-quiet", 0, 1800), {
  port: PORT,
  workers: WORKERS,
  cpuProfDir: args["cpu-prof"],
  maxSockets: CONNECTIONS + 16,
  partitions: PARTITIONS,
}, bench);
