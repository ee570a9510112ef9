/**
 * npm run bench:dispatch — campaign dispatch throughput: a batch run over N members, each an
 * email through SMTP (nodemailer, pooled) to a local smtp-server, every send recorded with its
 * idempotency key first. PostgreSQL when DATABASE_URL is set, else PGlite in memory. Profiles
 * are written through the profile store, so they are encrypted at rest as in production. The
 * machine's load average is printed with the result: the figures mean little on a busy machine.
 * Usage: npm run bench:dispatch [-- --members 5000 --concurrency 16]
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { SMTPServer } from "smtp-server";
import { openPglite, openPostgres } from "@/db/client";
import { createSmtpSender } from "@/lib/adapters/channels/smtp";
import { LocalEventLog } from "@/lib/adapters/event-log/local-log";
import { createCampaignSchema } from "@/lib/campaigns/campaign";
import { parseEnv } from "@/lib/env";
import { createRuntime } from "@/lib/runtime";
import { createSegmentSchema } from "@/lib/segments/definition";
import { createCampaign, setCampaignStatus, triggerCampaign } from "@/lib/services/campaigns";
import { createSegment } from "@/lib/services/segments";

const { values } = parseArgs({
  options: { members: { type: "string", default: "5000" }, concurrency: { type: "string", default: "16" } },
});
const members = Number(values.members);

async function main() {
  let received = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _s, cb) {
      stream.on("data", () => {});
      stream.on("end", () => {
        received++;
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
  const port = (smtp.server.address() as AddressInfo).port;

  const dataDir = mkdtempSync(path.join(tmpdir(), "am-dispatch-"));
  const url = process.env.DATABASE_URL;
  let dbName: string | null = null;
  let db;
  if (url) {
    dbName = `am_bench_dispatch_${Date.now().toString(36)}`;
    const admin = await openPostgres(url, { max: 1 });
    await admin.exec(`create database ${dbName}`);
    await admin.close();
    const u = new URL(url);
    u.pathname = `/${dbName}`;
    db = await openPostgres(u.toString());
  } else {
    db = await openPglite();
  }
  await db.migrate();
  const env = parseEnv({ NODE_ENV: "test", DATA_DIR: dataDir, ADMIN_API_KEY: "bench-admin-key-0123456789" });
  const sender = createSmtpSender({ url: `smtp://127.0.0.1:${port}`, from: "bench <bench@example.com>" });
  const rt = await createRuntime(env, {
    db,
    eventLog: new LocalEventLog({ dir: path.join(dataDir, "log") }),
    skipMigrations: true,
    workers: true,
    only: "dispatcher",
    senders: new Map([["email", sender]]),
    dispatcher: { pollMs: 50, runConcurrency: Number(values.concurrency) },
  });
  const ctx = { actor: "bench", traceId: "bench", now: new Date() };
  const segment = await createSegment(
    rt.segmentDeps,
    createSegmentSchema.parse({ name: "all", rules: [{ eventType: "clicks", attribute: "count", operator: "GTE", value: 0, windowMinutes: 60 }] }),
    ctx,
  );
  const users = Array.from({ length: members }, (_, i) => `u${String(i).padStart(7, "0")}`);
  for (let i = 0; i < members; i += 200) {
    await Promise.all(
      users
        .slice(i, i + 200)
        .map((userId) =>
          rt.profiles.put(userId, { email: `${userId}@example.com`, phone: null, deviceTokens: [], timezone: null, attributes: { firstName: "Ada" } }, new Date()),
        ),
    );
  }
  await rt.memberships.apply(users.map((userId) => ({ userId, segmentId: segment.id, kind: "enter" as const, at: Date.now(), cause: "event" as const, version: 1 })));
  const campaign = await createCampaign(
    rt.campaignDeps,
    createCampaignSchema.parse({
      name: "bench",
      segmentId: segment.id,
      channelType: "email",
      trigger: "BATCH",
      subject: "Hello {{user.attributes.firstName}}",
      template: "<p>Hi {{user.attributes.firstName}}, this is {{campaign.name}}.</p>",
    }),
    ctx,
  );
  await setCampaignStatus(rt.campaignDeps, campaign.id, "ACTIVE", ctx);
  const loadBefore = loadavg()[0]!;
  const t0 = performance.now();
  const run = await triggerCampaign(rt.campaignDeps, campaign.id, ctx);
  const runs = rt.campaignDeps.runs!;
  for (;;) {
    const r = await runs.get(run.id);
    if (r?.status === "COMPLETED") break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const progress = await runs.progress(run.id);
  console.log(
    JSON.stringify({
      database: db.kind,
      members,
      concurrency: Number(values.concurrency),
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(progress.sent / seconds),
      sent: progress.sent,
      receivedBySmtp: received,
      loadAverage1m: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
    }),
  );
  await rt.close();
  await new Promise<void>((r) => smtp.close(() => r()));
  if (dbName && url) {
    const admin = await openPostgres(url, { max: 1 });
    await admin.exec(`drop database if exists ${dbName} with (force)`);
    await admin.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
