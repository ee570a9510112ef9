/**
 * npm run bench:query — latency of GET /api/v1/users/{id}/segments at a fixed request rate while
 * events are being ingested. Target (seed): p99 ≤ 10 ms at 5,000 requests/s.
 *
 * Needs `eval "$(bash scripts/services.sh up)"` (DATABASE_URL, KAFKA_BROKERS) and `npm run build`.
 * bench/platform.ts starts the web process and `--workers` segment-processor processes on a
 * fresh database (removed at the end), as bench:e2e does.
 *
 * 1. Preload: `--users` users get three addToCart and one orders event (value 150) each through
 *    POST /api/v1/events; the bench waits until every one of them is a member of three segments
 *    ("cart", "spender" and the derived "hot"), i.e. 3 × users membership rows.
 * 2. Background ingestion: `--ingest-rate` events/s (batches of 500, open loop) for half known
 *    users, half other users, for the whole measurement.
 * 3. For each rate in `--rates` (requests/s), for `--duration` seconds: an open-loop scheduler
 *    issues GET /api/v1/users/{id}/segments for random known users on a fixed schedule over
 *    `--connections` keep-alive connections. Latency is measured from each request's scheduled
 *    time (so a late send counts against the server, no coordinated omission); a request due
 *    while `--max-in-flight` are outstanding is not sent and counted as missed. The first
 *    `--warmup` seconds of each step are not counted.
 *
 * Reported per rate: achieved rate, missed and late sends, latency percentiles from the
 * scheduled time and from the actual send ("service"), the ingestion rate reached meanwhile, and
 * CPU per process group including other processes on the (possibly shared) machine.
 * `--wait-quiet S` waits up to S seconds for other load to drop below 0.3 cores before starting.
 *
 * Usage: npm run bench:query -- [--rates 5000] [--duration 20] [--warmup 2] [--users 10000]
 *          [--ingest-rate 5000] [--connections 32] [--max-in-flight 512] [--workers 1]
 *          [--port 3311] [--wait-quiet 120] [--cpu-prof DIR]
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import {
  CpuMeter,
  HttpClient,
  backgroundEvent,
  countRows,
  createBenchSegments,
  eventJson,
  fmt,
  sleep,
  runPlatformBench,
  summary,
  userEventPartitions,
  type Platform,
} from "./platform";

const { values: args } = parseArgs({
  options: {
    rates: { type: "string", default: "5000" },
    duration: { type: "string", default: "20" },
    warmup: { type: "string", default: "2" },
    users: { type: "string", default: "10000" },
    "ingest-rate": { type: "string", default: "5000" },
    connections: { type: "string", default: "32" },
    "max-in-flight": { type: "string", default: "512" },
    workers: { type: "string", default: "1" },
    port: { type: "string", default: "3311" },
    "cpu-prof": { type: "string" },
    "wait-quiet": { type: "string", default: "120" },
  },
});

function bounded(name: keyof typeof args, min: number, max: number): number {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
  return v;
}

const RATES = (args.rates ?? "").split(",").map(Number);
if (RATES.length === 0 || RATES.some((r) => !Number.isFinite(r) || r < 1 || r > 100_000)) throw new Error("--rates: requests/s values in 1..100000");
const DURATION_S = bounded("duration", 2, 300);
const WARMUP_S = Math.min(bounded("warmup", 0, 60), DURATION_S - 1);
const USERS = bounded("users", 1, 1_000_000);
const INGEST_RATE = bounded("ingest-rate", 0, 1_000_000);
const CONNECTIONS = bounded("connections", 1, 256);
const MAX_IN_FLIGHT = bounded("max-in-flight", 1, 10_000);
const WORKERS = bounded("workers", 1, 16);
const PORT = bounded("port", 1024, 65535);
const INGEST_BATCH = 500;


async function bench(p: Platform, otherCores: number) {
  const segs = await createBenchSegments(p);
  await p.startWorkers();
  const known = (i: number) => `q${p.run}-${i}`;

  // ---- 1. preload ----
  const t0 = performance.now();
  const perUser = 4;
  const usersPerBatch = Math.floor(1000 / perUser);
  const batches: string[] = [];
  for (let from = 0; from < USERS; from += usersPerBatch) {
    const now = Date.now();
    const parts: string[] = [];
    for (let i = from; i < Math.min(USERS, from + usersPerBatch); i++) {
      parts.push(
        eventJson(known(i), "addToCart", now - 4000),
        eventJson(known(i), "orders", now - 3000, 150),
        eventJson(known(i), "addToCart", now - 2000),
        eventJson(known(i), "addToCart", now - 1000),
      );
    }
    batches.push(`{"events":[${parts.join(",")}]}`);
  }
  // Two at a time: ordering within a user is kept (all of a user's events are in one batch).
  for (let i = 0; i < batches.length; i += 2) {
    await Promise.all(
      batches.slice(i, i + 2).map(async (b) => {
        const r = await p.http.request("POST", "/api/v1/events", b);
        if (r.status !== 202) throw new Error(`preload: POST /api/v1/events answered ${r.status}: ${r.body.slice(0, 300)}`);
      }),
    );
  }
  // Three addToCart and an order of 150: each user is a member of cart, spender and hot.
  const want = USERS * 3;
  const deadline = Date.now() + 180_000;
  let have = 0;
  for (;;) {
    have = await countRows(p, "select count(*) as n from user_segment_memberships where user_id like $1", [`q${p.run}-%`]);
    if (have >= want) break;
    const contaminated = p.contaminated();
    if (contaminated) throw new Error(contaminated);
    if (Date.now() > deadline) throw new Error(`preload: only ${have} of ${want} memberships after 180 s`);
    await sleep(500);
  }
  console.error(`preloaded ${USERS} users (${have} memberships) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Every preloaded user answers with its 3 segments: check one.
  const check = await p.http.json<{ segments: { segmentId: string }[] }>("GET", `/api/v1/users/${known(0)}/segments`);
  if (check.segments.length !== 3 || !check.segments.some((s) => s.segmentId === segs.hot)) {
    throw new Error(`preload: user ${known(0)} is in ${JSON.stringify(check.segments)}`);
  }

  // ---- 2. background ingestion ----
  let ingestStop = false;
  let ingested = 0;
  let ingestFailed = 0;
  let ingestMissed = 0;
  const ingestClient = new HttpClient(p.port, p.key, 8);
  const ingestion = (async () => {
    if (INGEST_RATE === 0) return;
    const start = performance.now();
    let issued = 0;
    let inFlight = 0;
    const pending = new Set<Promise<void>>();
    while (!ingestStop) {
      const due = Math.floor(((performance.now() - start) * INGEST_RATE) / 1000 / INGEST_BATCH);
      for (; issued < due; issued++) {
        if (inFlight >= 8) {
          ingestMissed++;
          continue;
        }
        const now = Date.now();
        const parts: string[] = [];
        for (let i = 0; i < INGEST_BATCH; i++) {
          const user = i % 2 === 0 ? known(Math.floor(Math.random() * USERS)) : `b${p.run}-${Math.floor(Math.random() * 100_000)}`;
          parts.push(backgroundEvent(user, now));
        }
        inFlight++;
        const s = ingestClient
          .request("POST", "/api/v1/events", `{"events":[${parts.join(",")}]}`)
          .then(
            (r) => (r.status === 202 ? (ingested += INGEST_BATCH) : ingestFailed++),
            () => ingestFailed++,
          )
          .then(() => {
            inFlight--;
          });
        pending.add(s);
        void s.finally(() => pending.delete(s));
      }
      await sleep(5);
    }
    await Promise.all(pending);
  })();

  // ---- 3. query steps ----
  await sleep(2000); // let the ingestion settle
  const partitions = await userEventPartitions(p);
  const lines: string[] = [];
  lines.push("", `### bench:query ${new Date().toISOString()}`, "");
  lines.push(
    `Setup: web + ${WORKERS} worker(s) (user-events has ${partitions} partitions); ${USERS.toLocaleString("en-US")} users with 3 memberships each; background ingestion ` +
      `${INGEST_RATE.toLocaleString("en-US")} events/s; ${CONNECTIONS} keep-alive connections; ${DURATION_S} s per rate ` +
      `(first ${WARMUP_S} s not counted); latency from the scheduled send time, in ms.`,
    "",
    "| offered req/s | achieved req/s | missed | late > 10 ms | non-200 | p50 | p95 | p99 | p99.9 | max | service p50 / p99 | ingested events/s | CPU cores: web, worker, postgres, kafka, bench, other + unattributed (machine busy) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  const client = new HttpClient(p.port, p.key, CONNECTIONS);
  const notes: string[] = [];
  for (const rate of RATES) {
    const ingestedBefore = ingested;
    const r = await step(client, rate, known, segs.hot, p);
    const ingestRate = (ingested - ingestedBefore) / r.seconds;
    const lat = summary(r.latencies);
    const svc = summary(r.service);
    const sorted = [...r.latencies].sort((a, b) => a - b);
    const p999 = sorted[Math.min(sorted.length - 1, Math.ceil(0.999 * sorted.length) - 1)] ?? NaN;
    const c = r.cpu.cores;
    const row =
      `| ${rate.toLocaleString("en-US")} | ${Math.round(r.achieved).toLocaleString("en-US")} | ${r.missed} | ${r.late} | ${r.bad} | ` +
      `${fmt(lat.p50)} | ${fmt(lat.p95)} | **${fmt(lat.p99)}** | ${fmt(p999)} | ${fmt(lat.max)} | ${fmt(svc.p50)} / ${fmt(svc.p99)} | ` +
      `${Math.round(ingestRate).toLocaleString("en-US")} | ` +
      `${["web", "worker", "postgres", "kafka", "bench"].map((k) => (c[k] ?? 0).toFixed(2)).join(", ")}, ${foreignCores(r.cpu).toFixed(2)} (${r.cpu.machineBusyCores.toFixed(2)}) |`;
    if (r.cpu.others.length > 0) notes.push(`${rate} req/s: other processes: ${r.cpu.others.join("; ")}`);
    lines.push(row);
    console.error(row);
    const contaminated = p.contaminated();
    if (contaminated) throw new Error(contaminated);
    await sleep(1000);
  }
  client.close();
  ingestStop = true;
  await ingestion;
  ingestClient.close();
  lines.push(
    "",
    `Background ingestion: ${ingested.toLocaleString("en-US")} events accepted, ${ingestFailed} failed batches, ${ingestMissed} missed batches. ` +
      `Other load before start: ${otherCores.toFixed(2)} cores.`,
    ...notes.map((n) => `\n${n}`),
    ...p.problems().map((problem) => `\n**Warning** — ${problem}`),
  );
  console.log(lines.join("\n"));
}

/** CPU of everything that is not the platform, the engines or the bench (other users of the machine). */
function foreignCores(c: ReturnType<CpuMeter["stop"]>): number {
  const mine = ["web", "worker", "postgres", "kafka", "bench", "kernel"].reduce((s, k) => s + (c.cores[k] ?? 0), 0);
  return Math.max(0, c.machineBusyCores - mine);
}

interface StepResult {
  seconds: number;
  achieved: number;
  missed: number;
  late: number;
  bad: number;
  latencies: number[];
  service: number[];
  cpu: ReturnType<CpuMeter["stop"]>;
}

async function step(client: HttpClient, rate: number, known: (i: number) => string, hot: string, p: Platform): Promise<StepResult> {
  const latencies: number[] = [];
  const service: number[] = [];
  let missed = 0;
  let late = 0;
  let bad = 0;
  let inFlight = 0;
  let completedInWindow = 0;
  let checked = 0;
  const interval = 1000 / rate;
  const start = performance.now();
  const measureFrom = start + WARMUP_S * 1000;
  const end = start + DURATION_S * 1000;
  const cpu = new CpuMeter(() => p.roles());
  const cpuStart = setTimeout(() => cpu.start(), WARMUP_S * 1000);
  const pending = new Set<Promise<void>>();
  let issued = 0;

  const fire = (intended: number) => {
    const sent = performance.now();
    if (sent - intended > 10) late++;
    const counted = intended >= measureFrom;
    inFlight++;
    const s = client
      .request("GET", `/api/v1/users/${known(Math.floor(Math.random() * USERS))}/segments`, undefined, 10_000)
      .then(
        (r) => {
          const done = performance.now();
          if (r.status !== 200) {
            if (counted) bad++;
            return;
          }
          // Spot-check that the answer is a real one (the user's three segments).
          if (counted && checked++ % 1000 === 0 && !r.body.includes(hot)) bad++;
          if (counted) {
            latencies.push(done - intended);
            service.push(done - sent);
            completedInWindow++;
          }
        },
        () => {
          if (counted) bad++;
        },
      )
      .then(() => {
        inFlight--;
      });
    pending.add(s);
    void s.finally(() => pending.delete(s));
  };

  // Open loop: whatever is due by now is sent now, each stamped with its own scheduled time.
  while (performance.now() < end) {
    const due = Math.min(Math.floor((performance.now() - start) / interval), Math.floor((DURATION_S * 1000) / interval));
    for (; issued < due; issued++) {
      const intended = start + issued * interval;
      if (inFlight >= MAX_IN_FLIGHT) {
        if (intended >= measureFrom) missed++;
        continue;
      }
      fire(intended);
    }
    // A 1 ms timer, not a busy loop: the generator shares the machine with what it measures.
    await sleep(1);
  }
  clearTimeout(cpuStart);
  const cpuResult = cpu.stop();
  await Promise.race([Promise.all(pending), sleep(15_000)]);
  const seconds = (end - measureFrom) / 1000;
  return { seconds, achieved: completedInWindow / seconds, missed, late, bad, latencies, service, cpu: cpuResult };
}

runPlatformBench(bounded("wait-quiet", 0, 1800), { port: PORT, workers: WORKERS, cpuProfDir: args["cpu-prof"], maxSockets: 16 }, bench);
