/**
 * The webhook dispatcher: consumes `segment-memberships` (a consumer group of its own) and
 * POSTs each entry / exit to the webhook subscriptions that want it, signed.
 *
 * At least once: a transition becomes one delivery row per matching subscription (unique on
 * subscription and transition, so a redelivered transition adds nothing) before its offset is
 * committed; attempts are made from those rows, claimed with a lease (a worker that dies
 * mid-attempt leaves the delivery to be tried again when the lease runs out). Every attempt of a
 * delivery carries the same body and `X-AM-Delivery-Id`, for the receiver to deduplicate, and a
 * fresh `X-AM-Signature: t=<unix s>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`.
 *
 * A non-2xx answer, a network error or a timeout is a failed attempt: retried with exponential
 * backoff and jitter up to `maxAttempts`, then the delivery is `failed`. `disableAfter` failed
 * attempts in a row (over all deliveries of a subscription) disable the subscription with the
 * reason shown in the API; its pending deliveries wait, and resume when it is enabled again.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Clock } from "@/lib/ports/clock";
import type { EventLog, Subscription } from "@/lib/ports/event-log";
import type { SegmentStore } from "@/lib/ports/segments";
import type { AttemptLogEntry, ClaimedDelivery, NewDelivery, WebhookStore } from "@/lib/ports/webhooks";
import { TOPICS } from "@/lib/topics";
import { openSecret } from "@/lib/webhooks/secret";
import {
  buildPayload,
  DEFAULT_WEBHOOK_POLICY,
  DELIVERY_ID_HEADER,
  disabledReason,
  EVENT_HEADER,
  isDelivered,
  SIGNATURE_HEADER,
  signatureHeader,
  webhookRetryDelayMs,
  type MembershipTransition,
  type WebhookPolicy,
} from "@/lib/webhooks/webhook";

const transitionSchema = z.object({
  id: z.string().min(1),
  userId: z.string().min(1),
  segmentId: z.string().min(1),
  kind: z.enum(["enter", "exit"]),
  at: z.number(),
  cause: z.string(),
  version: z.number(),
});

export interface WebhookLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface WebhookDispatcherDeps {
  eventLog: EventLog;
  webhooks: WebhookStore;
  segments: Pick<SegmentStore, "names">;
  clock: Clock;
  log: WebhookLogger;
  /** WEBHOOK_SECRET_KEY, to open sealed secrets. */
  secretKey?: string;
  random?: () => number;
  fetch?: typeof fetch;
}

export interface WebhookDispatcherOptions {
  groupId?: string;
  fromBeginning?: boolean;
  policy?: Partial<WebhookPolicy>;
  /** How often due retries are looked for. */
  pollMs?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts in flight at once. */
  concurrency?: number;
  /** How long a claimed delivery is kept from other workers. */
  leaseMs?: number;
}

export interface WebhookDispatcher {
  /** Resolves once every received transition is recorded and every delivery due now attempted (tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const USER_AGENT = "AudienceManager-Webhooks/1";

export async function startWebhookDispatcher(deps: WebhookDispatcherDeps, options: WebhookDispatcherOptions = {}): Promise<WebhookDispatcher> {
  const policy: WebhookPolicy = { ...DEFAULT_WEBHOOK_POLICY, ...options.policy };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  const leaseMs = options.leaseMs ?? Math.max(60_000, timeoutMs * 3);
  const random = deps.random ?? Math.random;
  const doFetch = deps.fetch ?? fetch;
  const { log } = deps;
  let closed = false;
  let recording: Promise<void> = Promise.resolve();
  let pumping: Promise<void> | null = null;
  let again = false;

  async function record(values: string[]): Promise<void> {
    const transitions: MembershipTransition[] = [];
    for (const v of values) {
      let parsed: ReturnType<typeof transitionSchema.safeParse> | undefined;
      try {
        parsed = transitionSchema.safeParse(JSON.parse(v));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) transitions.push(parsed.data);
      else log.warn({}, "webhook dispatcher: unparseable membership transition skipped");
    }
    if (transitions.length === 0) return;
    const subscriptions = await deps.webhooks.matching([...new Set(transitions.map((t) => t.segmentId))]);
    if (subscriptions.length === 0) return;
    const names = await deps.segments.names([...new Set(transitions.map((t) => t.segmentId))]);
    const now = deps.clock.now();
    const rows: NewDelivery[] = [];
    for (const t of transitions) {
      for (const s of subscriptions) {
        if (s.segmentId !== null && s.segmentId !== t.segmentId) continue;
        if (!s.events.includes(t.kind)) continue;
        const id = randomUUID();
        rows.push({
          id,
          subscriptionId: s.id,
          transitionId: t.id,
          event: t.kind,
          segmentId: t.segmentId,
          userId: t.userId,
          payload: buildPayload(id, t, names.get(t.segmentId) ?? null, now),
        });
      }
    }
    await deps.webhooks.enqueue(rows, now);
    if (rows.length > 0) kick();
  }

  async function attempt(d: ClaimedDelivery): Promise<void> {
    const started = deps.clock.now();
    let responseCode: number | null = null;
    let error: string | null = null;
    let secret: string;
    try {
      secret = openSecret(d.secretCiphertext, deps.secretKey);
    } catch (e) {
      const entry: AttemptLogEntry = { at: started.toISOString(), responseCode: null, error: (e as Error).message, durationMs: 0 };
      // A secret that cannot be read will not become readable by retrying: disable now.
      await deps.webhooks.recordFailure(d, entry, started, { after: 1, reason: () => `disabled: ${(e as Error).message}` }, started);
      log.warn({ subscriptionId: d.subscriptionId }, "webhook disabled: its secret cannot be read");
      return;
    }
    try {
      const res = await doFetch(d.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": USER_AGENT,
          [DELIVERY_ID_HEADER]: d.id,
          [EVENT_HEADER]: d.event === "enter" ? "segment.entered" : "segment.exited",
          [SIGNATURE_HEADER]: signatureHeader(secret, d.payload, started),
          "x-am-attempt": String(d.attempts + 1),
        },
        body: d.payload,
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      responseCode = res.status;
      // Read (and drop) the answer so the connection is free again.
      await res.arrayBuffer().catch(() => undefined);
      if (!isDelivered(res.status)) error = `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      error =
        err.name === "TimeoutError" || err.name === "AbortError"
          ? `timed out after ${timeoutMs} ms`
          : String(err.cause?.code ?? err.message ?? e).slice(0, 300);
    }
    const now = deps.clock.now();
    const entry: AttemptLogEntry = { at: started.toISOString(), responseCode, error, durationMs: now.getTime() - started.getTime() };
    if (error === null) {
      await deps.webhooks.recordSuccess(d, entry, now);
      return;
    }
    const attempts = d.attempts + 1;
    const retryAt = attempts >= policy.maxAttempts ? null : new Date(now.getTime() + webhookRetryDelayMs(attempts, policy, random));
    const { disabled } = await deps.webhooks.recordFailure(
      d,
      entry,
      retryAt,
      { after: policy.disableAfter, reason: (failures) => disabledReason(failures, error!, now) },
      now,
    );
    if (disabled) log.warn({ subscriptionId: d.subscriptionId, url: d.url, lastError: error }, "webhook subscription disabled after repeated failures");
  }

  /** Attempts every due delivery, `concurrency` at a time, until none is due. */
  async function pump(): Promise<void> {
    do {
      again = false;
      for (;;) {
        if (closed) return;
        const now = deps.clock.now();
        const due = await deps.webhooks.claimDue(now, new Date(now.getTime() + leaseMs), concurrency * 4);
        if (due.length === 0) break;
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(concurrency, due.length) }, async () => {
            while (next < due.length) {
              const d = due[next++]!;
              await attempt(d).catch((e: unknown) => log.warn({ err: e, deliveryId: d.id }, "webhook attempt could not be recorded; retried after its lease"));
            }
          }),
        );
      }
    } while (again && !closed);
  }

  function kick(): Promise<void> {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = pump()
      .catch((e: unknown) => log.warn({ err: e }, "webhook delivery loop failed; retrying on the next poll"))
      .finally(() => {
        pumping = null;
      });
    return pumping;
  }

  const subscription: Subscription = await deps.eventLog.subscribe({
    groupId: options.groupId ?? "webhook-dispatcher",
    topics: [TOPICS.segmentMemberships],
    fromBeginning: options.fromBeginning ?? false,
    handleBatch: (batch) => {
      const run = recording.then(() => record(batch.messages.map((m) => m.value)));
      recording = run.catch(() => {});
      return run;
    },
  });

  const pollMs = options.pollMs ?? 1_000;
  let timer: NodeJS.Timeout | null = null;
  const loop = () => {
    if (closed) return;
    timer = setTimeout(() => void kick().finally(loop), pollMs);
  };
  loop();

  return {
    async idle() {
      await recording;
      while (pumping) await pumping;
      await kick();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await subscription.close();
      await recording;
      if (pumping) await pumping;
    },
  };
}
