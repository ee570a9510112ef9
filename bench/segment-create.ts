/**
 * npm run bench:segments — latency of POST /api/v1/segments (seed §14.1: < 500 ms).
 *
 * Drives the real route handler (auth, JSON and zod parsing, the serialised definition
 * transaction with its cycle check, version, audit and outbox rows) on the configured database:
 * PostgreSQL when DATABASE_URL is set, otherwise PGlite in memory. HTTP framing is not included.
 * Usage: npm run bench:segments [-- --existing 1000 --samples 300]
 */
import { parseArgs } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { openPglite, openPostgres } from "@/db/client";
import { parseEnv } from "@/lib/env";
import { createRuntime, installRuntime } from "@/lib/runtime";
import { LocalEventLog } from "@/lib/adapters/event-log/local-log";
import * as segments from "@/app/api/v1/segments/route";

const { values } = parseArgs({
  options: { existing: { type: "string", default: "1000" }, samples: { type: "string", default: "300" } },
});
const existing = Number(values.existing);
const samples = Number(values.samples);
const KEY = "bench-admin-key-0123456789";

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const url = process.env.DATABASE_URL;
  const dataDir = mkdtempSync(path.join(tmpdir(), "am-bench-"));
  const db = url ? await openPostgres(url) : await openPglite();
  await db.migrate();
  const log = new LocalEventLog({ dir: path.join(dataDir, "log") });
  const env = parseEnv({ ...process.env, NODE_ENV: "test", ADMIN_API_KEY: KEY, DATA_DIR: dataDir });
  const rt = await createRuntime(env, { db, eventLog: log, skipMigrations: true, workers: false });
  installRuntime(rt);
  const run = Date.now().toString(36);

  const post = async (body: unknown) => {
    const res = await segments.POST(
      new Request("http://localhost/api/v1/segments", {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
      { params: Promise.resolve({}) },
    );
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const rules = (i: number) => [
    { eventType: "addToCart", attribute: "count", operator: "GTE", value: (i % 10) + 1, windowMinutes: (i % 1440) + 1 },
    { eventType: "orders", attribute: "sum", operator: "GT", value: i * 5, windowMinutes: 1440 },
  ];

  const ids: string[] = [];
  for (let i = 0; i < existing; i++) {
    if (i > 10 && i % 5 === 0) {
      const a = ids[(i * 7) % ids.length]!;
      const b = ids[(i * 13) % ids.length]!;
      ids.push((await post({ name: `seed ${run} ${i}`, logicalExpression: a === b ? a : `${a} AND NOT ${b}` })).id);
    } else {
      ids.push((await post({ name: `seed ${run} ${i}`, rules: rules(i) })).id);
    }
  }

  const measure = async (kind: string, body: (i: number) => unknown) => {
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await post(body(i));
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const row = {
      kind,
      samples,
      p50: percentile(times, 50).toFixed(2),
      p95: percentile(times, 95).toFixed(2),
      p99: percentile(times, 99).toFixed(2),
      max: times[times.length - 1]!.toFixed(2),
    };
    console.log(JSON.stringify(row));
    return row;
  };

  console.log(`database: ${db.kind}; ${existing} segments already defined; times in ms`);
  await measure("independent", (i) => ({ name: `bench ${run} ind ${i}`, rules: rules(i) }));
  await measure("derived", (i) => ({
    name: `bench ${run} der ${i}`,
    logicalExpression: `(${ids[i % ids.length]} OR ${ids[(i * 3) % ids.length]}) AND NOT ${ids[(i * 11 + 1) % ids.length]}`,
  }));

  await rt.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
