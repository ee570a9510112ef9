/**
 * The campaign dispatcher: consumes `segment-memberships`; for every ACTIVE ON_ENTER / ON_EXIT
 * campaign of the segment, sends one message per (campaign, user, transition). Batch runs
 * (`campaign-triggers` wakes it; the runs themselves are claimed from the database) page
 * through a segment's members, one message per (run, user).
 *
 * Exactly once: the idempotency key is recorded (status queued) before any provider call, and a
 * redelivered transition finds its record and stops. A record is marked `sending` right before
 * the call; one found still `sending` after a crash has an unknown outcome: SMS and push are
 * re-sent with the same provider idempotency key (the provider deduplicates), email is marked
 * failed with reason `outcome_unknown` rather than risk a second message in an inbox. Every
 * status change is guarded by the status it leaves, and a record is leased to whoever works on
 * it (a fresh claim until `stuckAfterMs`, a due one taken by a sweep likewise), so two workers
 * reaching the same record cannot both decide it.
 * Policy (quiet hours, frequency cap, rate limit) defers or skips; transient provider errors
 * retry with backoff and jitter, permanent ones fail at once.
 *
 * Poison: a message that is not a valid transition or trigger, that names a run this database
 * does not have, or whose send record the database refuses (class 22/23) is published to
 * `dead-letters` and counted, never retried. An error while preparing one send (an unreadable
 * profile, a database hiccup) retries that send with backoff and fails it after `maxAttempts`;
 * it never holds up the partition.
 */
import { batchSendKey, sendKey, type ChannelType } from "@/lib/campaigns/campaign";
import type { RunStore, CampaignRun } from "@/lib/ports/runs";
import type { MembershipStore } from "@/lib/ports/memberships";
import { allOf, classifyProviderError, createRateLimiter, decideSend, rateLimiterForPolicy, retryDelayMs, type RateLimiter } from "@/lib/campaigns/policy";
import { renderEmail, renderTemplate, TemplateError, type TemplateContext } from "@/lib/campaigns/template";
import type { Campaign, CampaignStore } from "@/lib/ports/campaigns";
import type { Clock } from "@/lib/ports/clock";
import type { ConsumedMessage, EventLog, LogMessage, Subscription } from "@/lib/ports/event-log";
import type { MessageSender, OutboundMessage } from "@/lib/ports/messages";
import type { ProfileStore, Profile } from "@/lib/ports/profiles";
import type { SegmentStore } from "@/lib/ports/segments";
import type { SendRecord, SendStore } from "@/lib/ports/sends";
import { MAX_ID_LENGTH } from "@/lib/events/schema";
import { TOPICS, type DeadLetter } from "@/lib/topics";
import { z } from "zod";
import { errorText, isPermanentError } from "./failure";
import type { ProcessorLogger } from "./segment-processor";

/** A `segment-memberships` message as the segment processor publishes it. */
const membershipMessageSchema = z.object({
  id: z.string().min(1).max(4 * MAX_ID_LENGTH),
  userId: z.string().min(1).max(MAX_ID_LENGTH),
  segmentId: z.uuid(),
  kind: z.enum(["enter", "exit"]),
  at: z.number(),
  cause: z.string(),
  version: z.number(),
});

/** A `campaign-triggers` message (lib/runtime.ts `notifyRun`): a wake-up naming the new run. */
const triggerMessageSchema = z.object({ runId: z.uuid(), campaignId: z.uuid() });

/** The value parsed as JSON and checked against the schema, or why not. */
function parseMessage<T>(value: string, schema: z.ZodType<T>): { ok: true; data: T } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, data: r.data };
  const issue = r.error.issues[0];
  return { ok: false, error: issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid" };
}

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
  /** Messages per second per channel for this dispatcher (every campaign together). */
  channelRateLimits?: Partial<Record<Campaign["channelType"], number>>;
}

export interface DispatcherStatus {
  /** Valid transitions read from `segment-memberships`. */
  transitions: number;
  /** Messages given up on and published to `dead-letters`, by reason. */
  deadLetters: Record<string, number>;
  /** Send attempts that failed before reaching a provider (retried with backoff, then failed). */
  sendErrors: number;
}

export interface Dispatcher {
  /** Resolves when every received transition and due send has been handled (tests). */
  idle(): Promise<void>;
  status(): DispatcherStatus;
  close(): Promise<void>;
}

/**
 * Runs `fn` over the items with at most `limit` at a time. On a failure (or once `stop()` says
 * so) no new item starts; the ones running finish, then the first error is thrown.
 */
async function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, stop: () => boolean): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !failure && !stop()) {
        const item = items[next++]!;
        try {
          await fn(item);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw (failure as { error: unknown }).error;
}

export async function startCampaignDispatcher(deps: DispatcherDeps, options: DispatcherOptions = {}): Promise<Dispatcher> {
  const maxAttempts = options.maxAttempts ?? 5;
  const retry = { baseMs: options.retryBaseMs ?? 1_000, maxMs: options.retryMaxMs ?? 5 * 60_000 };
  const random = deps.random ?? Math.random;
  const { log } = deps;
  const limiters = new Map<string, RateLimiter | null>();
  const stuckAfterMs = options.stuckAfterMs ?? 60_000;
  /** Until when a record this worker is about to attempt is its own (see SendStore.claim). */
  const lease = (now: Date) => new Date(now.getTime() + stuckAfterMs);
  const deadLetterCounts = new Map<string, number>();
  let transitionsRead = 0;
  let sendErrors = 0;
  let closed = false;
  let working: Promise<void> = Promise.resolve();

  const channelLimiters = new Map<string, RateLimiter>();
  for (const [channel, rate] of Object.entries(options.channelRateLimits ?? {})) {
    if (rate && rate > 0) channelLimiters.set(channel, createRateLimiter({ ratePerSecond: rate, burst: Math.max(1, Math.floor(rate)) }));
  }
  /** The channel's limit (shared by every campaign on it) and the campaign's own. */
  const limiterOf = (c: Campaign) => {
    if (!limiters.has(c.id)) limiters.set(c.id, allOf(channelLimiters.get(c.channelType), rateLimiterForPolicy(c.policy)));
    return limiters.get(c.id)!;
  };

  // Segment names for templates, kept a few seconds: a batch run renders thousands of messages
  // for one segment, and a rename showing up seconds late in a message is harmless.
  const segmentNames = new Map<string, { name: string | null; at: number }>();
  async function segmentName(segmentId: string): Promise<string | null> {
    const hit = segmentNames.get(segmentId);
    if (hit && performance.now() - hit.at < 5_000) return hit.name;
    const name = (await deps.segments.names([segmentId])).get(segmentId) ?? null;
    if (segmentNames.size > 10_000) segmentNames.clear();
    segmentNames.set(segmentId, { name, at: performance.now() });
    return name;
  }

  async function contextFor(c: Campaign, profile: Profile | null): Promise<TemplateContext> {
    return {
      user: profile ? { email: profile.email, phone: profile.phone, attributes: profile.attributes } : null,
      segment: { name: await segmentName(c.segmentId) },
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

  /**
   * One attempt at one send record; every outcome is written to the record. `preloaded` is the
   * user's profile when the caller read it already (a batch run reads a page's at once): a
   * Profile, null for none, an Error for one that cannot be read; undefined to read it here.
   */
  async function attempt(c: Campaign, record: SendRecord, preloaded?: Profile | Error | null): Promise<void> {
    const now = deps.clock.now();
    if (c.status !== "ACTIVE") {
      // Paused: keep it queued and look again later; completed: it will never go.
      if (c.status === "PAUSED") {
        await deps.sends.requeue(record.id, new Date(now.getTime() + 60_000), "campaign_paused", now, "queued");
      } else {
        await deps.sends.markSkipped(record.id, `campaign_${c.status.toLowerCase()}`, now);
      }
      return;
    }
    const sender = deps.senders.get(c.channelType);
    if (!sender) return void (await deps.sends.markSkipped(record.id, `no_${c.channelType}_provider`, now));
    const profile = preloaded === undefined ? await deps.profiles.get(record.userId) : preloaded;
    if (profile instanceof Error) throw profile;
    if (!profile) return void (await deps.sends.markSkipped(record.id, "no_profile", now));
    const decision = decideSend({
      policy: c.policy,
      channelLimiter: limiterOf(c),
      recentSendsMs: c.policy.frequencyCap
        ? await deps.sends.sentTimes(record.userId, new Date(now.getTime() - c.policy.frequencyCap.windowHours * 3600_000))
        : [],
      timeZone: profile.timezone,
      nowMs: now.getTime(),
    });
    if (decision.action === "skip") return void (await deps.sends.markSkipped(record.id, decision.reason, now));
    if (decision.action === "defer") return void (await deps.sends.requeue(record.id, new Date(decision.untilMs), decision.reason, now, "queued"));

    let outbound: OutboundMessage | { skip: string };
    try {
      outbound = message(c, profile, await contextFor(c, profile), record.idempotencyKey);
    } catch (error) {
      // A variable this user lacks: never a blank in a customer's inbox.
      if (error instanceof TemplateError) return void (await deps.sends.markSkipped(record.id, `missing_variable: ${error.message}`, now));
      throw error;
    }
    if ("skip" in outbound) return void (await deps.sends.markSkipped(record.id, outbound.skip, now));

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
        await deps.sends.markFailed(record.id, reason, deps.clock.now(), "sending");
      } else {
        const at = new Date(deps.clock.now().getTime() + retryDelayMs(attempts, retry, random));
        await deps.sends.requeue(record.id, at, reason, deps.clock.now(), "sending");
      }
    }
  }

  /**
   * `attempt`, where an error before the provider call (the database, an unreadable profile)
   * retries this send later, counted, and fails it after maxAttempts: one bad record never
   * fails the batch it came in, nor holds up the others. After `markSending` the guarded
   * requeue is a no-op: that record is left to the stuck-call reconciliation.
   */
  async function attemptSafely(c: Campaign, record: SendRecord, preloaded?: Profile | Error | null): Promise<void> {
    try {
      await attempt(c, record, preloaded);
    } catch (error) {
      sendErrors++;
      const reason = `error: ${errorText(error)}`;
      log.warn({ err: error, sendId: record.id, campaignId: c.id }, "send attempt failed before the provider call");
      const now = deps.clock.now();
      const attempts = record.attempts + 1;
      try {
        if (attempts >= maxAttempts || isPermanentError(error)) await deps.sends.markFailed(record.id, reason, now, "queued", { countAttempt: true });
        else await deps.sends.requeue(record.id, new Date(now.getTime() + retryDelayMs(attempts, retry, random)), reason, now, "queued", { countAttempt: true });
      } catch (writeError) {
        // Still queued under its lease: the sweep takes it up again when the lease runs out.
        log.warn({ err: writeError, sendId: record.id }, "could not record the failed attempt");
      }
    }
  }

  // ---- dead letters ----------------------------------------------------------------------

  function deadLetter(reason: string, error: string, source: ConsumedMessage): LogMessage {
    deadLetterCounts.set(reason, (deadLetterCounts.get(reason) ?? 0) + 1);
    const letter: DeadLetter = {
      consumer: "campaign-dispatcher",
      source: { topic: source.topic, partition: source.partition, offset: source.offset, key: source.key, timestamp: source.timestamp },
      reason,
      error,
      value: source.value,
      at: Date.now(),
    };
    log.warn({ reason, error, topic: source.topic, partition: source.partition, offset: source.offset, key: source.key }, "dead-lettered");
    return {
      key: source.key,
      value: JSON.stringify(letter),
      headers: {
        reason,
        consumer: "campaign-dispatcher",
        "original-topic": source.topic,
        "original-partition": String(source.partition),
        "original-offset": source.offset,
      },
    };
  }

  /** Published before the batch counts as handled: a failed publish retries the batch. */
  async function publishDeadLetters(letters: LogMessage[]): Promise<void> {
    if (letters.length > 0) await deps.eventLog.append(TOPICS.deadLetters, letters);
  }

  async function handleTransitions(messages: ConsumedMessage[]): Promise<void> {
    const letters: LogMessage[] = [];
    const transitions: { t: z.output<typeof membershipMessageSchema>; m: ConsumedMessage }[] = [];
    for (const m of messages) {
      const r = parseMessage(m.value, membershipMessageSchema);
      if (r.ok) transitions.push({ t: r.data, m });
      else letters.push(deadLetter("unparseable", r.error, m));
    }
    transitionsRead += transitions.length;
    const campaigns =
      transitions.length === 0 ? [] : await deps.campaigns.activeFor([...new Set(transitions.map(({ t }) => t.segmentId))], ["ON_ENTER", "ON_EXIT"]);
    for (const { t, m } of transitions) {
      for (const c of campaigns) {
        if (c.segmentId !== t.segmentId || c.trigger !== (t.kind === "enter" ? "ON_ENTER" : "ON_EXIT")) continue;
        const now = deps.clock.now();
        let claimed: Awaited<ReturnType<SendStore["claim"]>>;
        try {
          claimed = await deps.sends.claim(
            {
              idempotencyKey: sendKey({ campaignId: c.id, userId: t.userId, transitionId: t.id }),
              campaignId: c.id,
              runId: null,
              userId: t.userId,
              channel: c.channelType,
              transitionId: t.id,
            },
            now,
            lease(now),
          );
        } catch (error) {
          // Data the database refuses fails the same way every time; anything else may pass later.
          if (!isPermanentError(error)) throw error;
          letters.push(deadLetter("invalid-data", errorText(error), m));
          break;
        }
        // A redelivered transition: its send is recorded and handled (or due later).
        if (!claimed.created) continue;
        await attemptSafely(c, claimed.record);
      }
    }
    await publishDeadLetters(letters);
  }

  /** `campaign-triggers` only wakes the run loop (runs are claimed from the database). */
  async function handleTriggers(messages: ConsumedMessage[]): Promise<void> {
    const letters: LogMessage[] = [];
    for (const m of messages) {
      const r = parseMessage(m.value, triggerMessageSchema);
      if (!r.ok) {
        letters.push(deadLetter("unparseable", r.error, m));
      } else if (deps.runs) {
        const run = await deps.runs.get(r.data.runId);
        if (!run || run.campaignId !== r.data.campaignId) {
          letters.push(deadLetter("unknown-run", `run ${r.data.runId} of campaign ${r.data.campaignId} does not exist in this database`, m));
        }
      }
    }
    await publishDeadLetters(letters);
    startDueRuns();
  }

  /** Deferred and retrying sends whose time has come, and calls a crash left unfinished. */
  async function sweep(): Promise<void> {
    const now = deps.clock.now();
    for (const record of await deps.sends.stuckSending(new Date(now.getTime() - stuckAfterMs), 100)) {
      if (record.channel === "email") {
        await deps.sends.markFailed(record.id, "outcome_unknown: the process stopped during the SMTP call", now, "sending");
      } else {
        // The provider deduplicates on the idempotency key: sending again is safe.
        await deps.sends.requeue(record.id, now, "outcome_unknown: retried with the same idempotency key", now, "sending");
      }
    }
    const due = await deps.sends.due(now, 200, lease(now));
    if (due.length === 0) return;
    const byId = new Map<string, Campaign | null>();
    for (const record of due) {
      if (!byId.has(record.campaignId)) byId.set(record.campaignId, await deps.campaigns.get(record.campaignId));
      const c = byId.get(record.campaignId);
      if (!c) {
        await deps.sends.markSkipped(record.id, "campaign_deleted", now);
        continue;
      }
      await attemptSafely(c, record);
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
      const c = campaign;
      // The page's keys are recorded together (the store group-commits the claims), and its
      // profiles read in one go; then a sliding window of sends (not waves that wait for their
      // slowest member) marks each `sending`, calls the provider and records the outcome.
      const now = deps.clock.now();
      const claims = await Promise.allSettled(
        page.members.map(({ userId }) =>
          deps.sends.claim(
            {
              idempotencyKey: batchSendKey({ campaignId: c.id, runId: run.id, userId }),
              campaignId: c.id,
              runId: run.id,
              userId,
              channel: c.channelType,
              transitionId: null,
            },
            now,
            lease(now),
          ),
        ),
      );
      const todo: SendRecord[] = [];
      for (const [i, claim] of claims.entries()) {
        if (claim.status === "fulfilled") {
          if (claim.value.created || claim.value.record.status === "queued") todo.push(claim.value.record);
        } else if (isPermanentError(claim.reason)) {
          // A member whose send the database cannot record (never will): counted, not retried.
          sendErrors++;
          log.warn({ err: claim.reason, runId: run.id, userId: page.members[i]!.userId }, "batch send cannot be recorded; member skipped");
        } else {
          throw claim.reason; // the run resumes from its cursor
        }
      }
      const profiles = c.status === "ACTIVE" && deps.senders.has(c.channelType) && todo.length > 0 ? await deps.profiles.getMany(todo.map((r) => r.userId)) : null;
      await forEachConcurrently(todo, runConcurrency, (record) => attemptSafely(c, record, profiles ? (profiles.get(record.userId) ?? null) : undefined), () => closed);
      // Stopped mid-page: the cursor stays before it, and whoever resumes the run finds the
      // sends already made (by their keys) and does the rest.
      if (closed) return;
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
      if (batch.topic === TOPICS.campaignTriggers) return handleTriggers(batch.messages);
      return serial(() => handleTransitions(batch.messages));
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
    status() {
      return { transitions: transitionsRead, deadLetters: Object.fromEntries(deadLetterCounts), sendErrors };
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

