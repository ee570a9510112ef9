/**
 * The campaign dispatcher: consumes `segment-memberships`; for every ACTIVE ON_ENTER / ON_EXIT
 * campaign of the segment, sends one message per (campaign, user, transition).
 *
 * Exactly once: the idempotency key is recorded (status queued) before any provider call, and a
 * redelivered transition finds its record and stops. A record is marked `sending` right before
 * the call; one found still `sending` after a crash has an unknown outcome: SMS and push are
 * re-sent with the same provider idempotency key (the provider deduplicates), email is marked
 * failed with reason `outcome_unknown` rather than risk a second message in an inbox.
 * Policy (quiet hours, frequency cap, rate limit) defers or skips; transient provider errors
 * retry with backoff and jitter, permanent ones fail at once.
 */
import { batchSendKey, sendKey, type ChannelType } from "@/lib/campaigns/campaign";
import type { RunStore, CampaignRun } from "@/lib/ports/runs";
import type { MembershipStore } from "@/lib/ports/memberships";
import { classifyProviderError, decideSend, rateLimiterForPolicy, retryDelayMs, type RateLimiter } from "@/lib/campaigns/policy";
import { renderEmail, renderTemplate, TemplateError, type TemplateContext } from "@/lib/campaigns/template";
import type { Campaign, CampaignStore } from "@/lib/ports/campaigns";
import type { Clock } from "@/lib/ports/clock";
import type { EventLog, Subscription } from "@/lib/ports/event-log";
import type { MessageSender, OutboundMessage } from "@/lib/ports/messages";
import type { ProfileStore, Profile } from "@/lib/ports/profiles";
import type { SegmentStore } from "@/lib/ports/segments";
import type { SendRecord, SendStore } from "@/lib/ports/sends";
import { TOPICS } from "@/lib/topics";
import { z } from "zod";
import type { ProcessorLogger } from "./segment-processor";

const membershipMessageSchema = z.object({
  id: z.string().min(1),
  userId: z.string().min(1),
  segmentId: z.string().min(1),
  kind: z.enum(["enter", "exit"]),
  at: z.number(),
  cause: z.string(),
  version: z.number(),
});

export interface DispatcherDeps {
  eventLog: EventLog;
  campaigns: CampaignStore;
  sends: SendStore;
  profiles: ProfileStore;
  segments: Pick<SegmentStore, "names">;
  senders: ReadonlyMap<ChannelType, MessageSender>;
  /** Batch runs and the members they page through (optional: triggered sends only without). */
  runs?: RunStore;
  memberships?: Pick<MembershipStore, "members" | "countMembers">;
  clock: Clock;
  log: ProcessorLogger;
  random?: () => number;
}

export interface DispatcherOptions {
  groupId?: string;
  fromBeginning?: boolean;
  /** Attempts before a transient failure becomes a failure. */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often deferred and retrying sends, and due batch runs, are looked for. */
  pollMs?: number;
  /** Members per page of a batch run (the cursor is saved after each page). */
  runPageSize?: number;
  /** Sends in flight at once within a batch run page. */
  runConcurrency?: number;
  /** The List-Unsubscribe target of an email to this user (mailto: or https:). */
  unsubscribe?: (userId: string, campaignId: string) => string | undefined;
  /** A record still `sending` after this long is from a crashed call. */
  stuckAfterMs?: number;
  /** A RUNNING batch run without a heartbeat for this long lost its worker and is taken over. */
  runStaleAfterMs?: number;
}

export interface Dispatcher {
  /** Resolves when every received transition and due send has been handled (tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startCampaignDispatcher(deps: DispatcherDeps, options: DispatcherOptions = {}): Promise<Dispatcher> {
  const maxAttempts = options.maxAttempts ?? 5;
  const retry = { baseMs: options.retryBaseMs ?? 1_000, maxMs: options.retryMaxMs ?? 5 * 60_000 };
  const random = deps.random ?? Math.random;
  const { log } = deps;
  const limiters = new Map<string, RateLimiter | null>();
  let closed = false;
  let working: Promise<void> = Promise.resolve();

  const limiterOf = (c: Campaign) => {
    if (!limiters.has(c.id)) limiters.set(c.id, rateLimiterForPolicy(c.policy));
    return limiters.get(c.id)!;
  };

  async function contextFor(c: Campaign, profile: Profile | null): Promise<TemplateContext> {
    const names = await deps.segments.names([c.segmentId]);
    return {
      user: profile ? { email: profile.email, phone: profile.phone, attributes: profile.attributes } : null,
      segment: { name: names.get(c.segmentId) ?? null },
      campaign: { name: c.name },
    };
  }

  function message(c: Campaign, profile: Profile, ctx: TemplateContext, key: string): OutboundMessage | { skip: string } {
    switch (c.channelType) {
      case "email": {
        if (!profile.email) return { skip: "no_email_address" };
        const m = renderEmail({ subject: c.subject ?? c.name, template: c.template }, ctx);
        const listUnsubscribe = options.unsubscribe?.(profile.userId, c.id);
        return { channel: "email", to: profile.email, ...m, idempotencyKey: key, ...(listUnsubscribe ? { listUnsubscribe } : {}) };
      }
      case "sms":
        if (!profile.phone) return { skip: "no_phone_number" };
        return { channel: "sms", to: profile.phone, body: renderTemplate(c.template, ctx, { escape: "none" }), idempotencyKey: key };
      case "push":
        if (profile.deviceTokens.length === 0) return { skip: "no_device_tokens" };
        return {
          channel: "push",
          targets: profile.deviceTokens,
          payload: { title: c.name, body: renderTemplate(c.template, ctx, { escape: "none" }), data: { campaignId: c.id } },
          idempotencyKey: key,
        };
    }
  }

  /** One attempt at one send record; every outcome is written to the record. */
  async function attempt(c: Campaign, record: SendRecord): Promise<void> {
    const now = deps.clock.now();
    if (c.status !== "ACTIVE") {
      // Paused: keep it queued and look again later; completed: it will never go.
      if (c.status === "PAUSED") return deps.sends.requeue(record.id, new Date(now.getTime() + 60_000), "campaign_paused", now);
      return deps.sends.markSkipped(record.id, `campaign_${c.status.toLowerCase()}`, now);
    }
    const sender = deps.senders.get(c.channelType);
    if (!sender) return deps.sends.markSkipped(record.id, `no_${c.channelType}_provider`, now);
    const profile = await deps.profiles.get(record.userId);
    if (!profile) return deps.sends.markSkipped(record.id, "no_profile", now);
    const decision = decideSend({
      policy: c.policy,
      channelLimiter: limiterOf(c),
      recentSendsMs: c.policy.frequencyCap
        ? await deps.sends.sentTimes(record.userId, new Date(now.getTime() - c.policy.frequencyCap.windowHours * 3600_000))
        : [],
      timeZone: profile.timezone,
      nowMs: now.getTime(),
    });
    if (decision.action === "skip") return deps.sends.markSkipped(record.id, decision.reason, now);
    if (decision.action === "defer") return deps.sends.requeue(record.id, new Date(decision.untilMs), decision.reason, now);

    let outbound: OutboundMessage | { skip: string };
    try {
      outbound = message(c, profile, await contextFor(c, profile), record.idempotencyKey);
    } catch (error) {
      // A variable this user lacks: never a blank in a customer's inbox.
      if (error instanceof TemplateError) return deps.sends.markSkipped(record.id, `missing_variable: ${error.message}`, now);
      throw error;
    }
    if ("skip" in outbound) return deps.sends.markSkipped(record.id, outbound.skip, now);

    if (!(await deps.sends.markSending(record.id, now))) return; // another worker has it
    try {
      const result = await sender.send(outbound);
      await deps.sends.markSent(record.id, result.providerMessageId, deps.clock.now());
    } catch (error) {
      const e = error as { status?: number | null; code?: string | number | null; message?: string };
      const kind = classifyProviderError({ status: e.status ?? null, code: e.code ?? null });
      const reason = `${kind}: ${String(e.message ?? error).slice(0, 300)}`;
      const attempts = record.attempts + 1;
      if (kind === "permanent" || attempts >= maxAttempts) {
        await deps.sends.markFailed(record.id, reason, deps.clock.now());
      } else {
        const at = new Date(deps.clock.now().getTime() + retryDelayMs(attempts, retry, random));
        await deps.sends.requeue(record.id, at, reason, deps.clock.now());
      }
    }
  }

  async function handleTransitions(values: string[]): Promise<void> {
    const transitions = [];
    for (const v of values) {
      try {
        const r = membershipMessageSchema.safeParse(JSON.parse(v));
        if (r.success) transitions.push(r.data);
        else log.warn({}, "unparseable membership transition skipped");
      } catch {
        log.warn({}, "unparseable membership transition skipped");
      }
    }
    if (transitions.length === 0) return;
    const campaigns = await deps.campaigns.activeFor([...new Set(transitions.map((t) => t.segmentId))], ["ON_ENTER", "ON_EXIT"]);
    if (campaigns.length === 0) return;
    for (const t of transitions) {
      for (const c of campaigns) {
        if (c.segmentId !== t.segmentId || c.trigger !== (t.kind === "enter" ? "ON_ENTER" : "ON_EXIT")) continue;
        const { record, created } = await deps.sends.claim(
          {
            idempotencyKey: sendKey({ campaignId: c.id, userId: t.userId, transitionId: t.id }),
            campaignId: c.id,
            runId: null,
            userId: t.userId,
            channel: c.channelType,
            transitionId: t.id,
          },
          deps.clock.now(),
        );
        // A redelivered transition: its send is recorded and handled (or due later).
        if (!created) continue;
        await attempt(c, record);
      }
    }
  }

  /** Deferred and retrying sends whose time has come, and calls a crash left unfinished. */
  async function sweep(): Promise<void> {
    const now = deps.clock.now();
    for (const record of await deps.sends.stuckSending(new Date(now.getTime() - (options.stuckAfterMs ?? 60_000)), 100)) {
      if (record.channel === "email") {
        await deps.sends.markFailed(record.id, "outcome_unknown: the process stopped during the SMTP call", now);
      } else {
        // The provider deduplicates on the idempotency key: sending again is safe.
        await deps.sends.requeue(record.id, now, "outcome_unknown: retried with the same idempotency key", now);
      }
    }
    const due = await deps.sends.due(now, 200);
    if (due.length === 0) return;
    const byId = new Map<string, Campaign | null>();
    for (const record of due) {
      if (!byId.has(record.campaignId)) byId.set(record.campaignId, await deps.campaigns.get(record.campaignId));
      const c = byId.get(record.campaignId);
      if (!c) {
        await deps.sends.markSkipped(record.id, "campaign_deleted", now);
        continue;
      }
      await attempt(c, record);
    }
  }

  // ---- batch runs ------------------------------------------------------------------------

  const runPageSize = options.runPageSize ?? 500;
  const runConcurrency = options.runConcurrency ?? 16;
  let running: Promise<void> | null = null;

  /** Pages through the segment's members, one send per (run, user); resumable from the cursor. */
  async function executeRun(run: CampaignRun): Promise<void> {
    const runs = deps.runs!;
    const members = deps.memberships!;
    let campaign = await deps.campaigns.get(run.campaignId);
    if (!campaign) return runs.advance(run.id, { status: "FAILED", finishedAt: deps.clock.now() }, deps.clock.now());
    let total = run.total;
    if (total === null) {
      total = await members.countMembers(campaign.segmentId);
      await runs.advance(run.id, { total }, deps.clock.now());
    }
    let cursor = run.cursor ?? undefined;
    for (;;) {
      if (closed) return; // picked up again from the cursor (stale heartbeat)
      if (campaign.status === "PAUSED") return runs.advance(run.id, { status: "PAUSED" }, deps.clock.now());
      if (campaign.status !== "ACTIVE") {
        return runs.advance(run.id, { status: "COMPLETED", finishedAt: deps.clock.now() }, deps.clock.now());
      }
      const page = await members.members(campaign.segmentId, { after: cursor, limit: runPageSize });
      for (let i = 0; i < page.members.length; i += runConcurrency) {
        await Promise.all(
          page.members.slice(i, i + runConcurrency).map(async ({ userId }) => {
            const { record, created } = await deps.sends.claim(
              {
                idempotencyKey: batchSendKey({ campaignId: campaign!.id, runId: run.id, userId }),
                campaignId: campaign!.id,
                runId: run.id,
                userId,
                channel: campaign!.channelType,
                transitionId: null,
              },
              deps.clock.now(),
            );
            if (created || record.status === "queued") await attempt(campaign!, record);
          }),
        );
      }
      const last = page.members.at(-1);
      if (last) cursor = last.userId;
      await runs.advance(run.id, { cursor: cursor ?? null }, deps.clock.now());
      if (!page.next) {
        return runs.advance(run.id, { status: "COMPLETED", finishedAt: deps.clock.now() }, deps.clock.now());
      }
      campaign = (await deps.campaigns.get(run.campaignId)) ?? campaign;
    }
  }

  function startDueRuns(): void {
    if (!deps.runs || !deps.memberships || running || closed) return;
    running = (async () => {
      for (;;) {
        const now = deps.clock.now();
        const run = await deps.runs!.claimDue(now, new Date(now.getTime() - (options.runStaleAfterMs ?? 60_000)));
        if (!run || closed) break;
        await executeRun(run);
      }
    })()
      .catch((error: unknown) => log.warn({ err: error }, "batch run step failed; it resumes from its cursor"))
      .finally(() => {
        running = null;
      });
  }

  const serial = (fn: () => Promise<void>) => {
    const run = working.then(fn);
    working = run.catch(() => {});
    return run;
  };

  const subscription: Subscription = await deps.eventLog.subscribe({
    groupId: options.groupId ?? "campaign-dispatcher",
    topics: [TOPICS.segmentMemberships, TOPICS.campaignTriggers],
    fromBeginning: options.fromBeginning ?? false,
    handleBatch: async (batch) => {
      // campaign-triggers only wakes the run loop: the run itself is claimed from the database.
      if (batch.topic === TOPICS.campaignTriggers) return startDueRuns();
      return serial(() => handleTransitions(batch.messages.map((m) => m.value)));
    },
  });

  const pollMs = options.pollMs ?? 1_000;
  let timer: NodeJS.Timeout | null = null;
  const loop = () => {
    if (closed) return;
    timer = setTimeout(() => {
      startDueRuns();
      serial(sweep)
        .catch((error: unknown) => log.warn({ err: error }, "dispatcher sweep failed"))
        .finally(loop);
    }, pollMs);
  };
  loop();

  return {
    async idle() {
      await working;
      await serial(sweep);
      if (running) await running;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await subscription.close();
      await working;
      if (running) await running;
    },
  };
}

