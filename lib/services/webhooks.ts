import { notFound, validationError } from "@/lib/errors";
import type { AuditLog } from "@/lib/ports/auth";
import type { SegmentStore } from "@/lib/ports/segments";
import type { WebhookStore, WebhookSubscription, WebhookSubscriptionPatch } from "@/lib/ports/webhooks";
import { generateSecret, sealSecret, secretHint } from "@/lib/webhooks/secret";
import type { CreateWebhookInput, UpdateWebhookInput } from "@/lib/webhooks/webhook";
import type { RequestContext } from "./context";

/**
 * Webhook subscriptions (REST: /api/v1/webhooks). The secret is returned once — in the response
 * that created or rotated it — and stored sealed (lib/webhooks/secret.ts).
 */
export interface WebhookDeps {
  webhooks: WebhookStore;
  segments: Pick<SegmentStore, "get">;
  /** WEBHOOK_SECRET_KEY: secrets are encrypted with it when set. */
  secretKey?: string;
  /** Where changes are recorded (the audit log); secrets never go there. */
  audit?: AuditLog;
}

async function record(deps: WebhookDeps, ctx: RequestContext, action: string, id: string, before: WebhookSubscription | null, after: WebhookSubscription | null) {
  await deps.audit?.append({ actor: ctx.actor, action, entityType: "webhook", entityId: id, before, after, traceId: ctx.traceId, at: ctx.now });
}

async function assertSegment(deps: WebhookDeps, segmentId: string | null | undefined) {
  if (!segmentId) return;
  if (!(await deps.segments.get(segmentId))) throw validationError([{ field: "segmentId", reason: "unknown or deleted segment" }]);
}

// POST /api/v1/webhooks
export async function createWebhook(deps: WebhookDeps, input: CreateWebhookInput, ctx: RequestContext) {
  await assertSegment(deps, input.segmentId);
  const secret = input.secret ?? generateSecret();
  const subscription = await deps.webhooks.create(
    {
      description: input.description,
      url: input.url,
      segmentId: input.segmentId,
      events: input.events,
      enabled: input.enabled,
      secretCiphertext: sealSecret(secret, deps.secretKey),
      secretHint: secretHint(secret),
      createdBy: ctx.actor,
    },
    ctx.now,
  );
  await record(deps, ctx, "webhook.create", subscription.id, null, subscription);
  return { ...subscription, secret };
}

// GET /api/v1/webhooks
export const listWebhooks = (deps: WebhookDeps, page: { after?: string; limit: number }) => deps.webhooks.list(page);

// GET /api/v1/webhooks/{id}
export async function getWebhook(deps: WebhookDeps, id: string): Promise<WebhookSubscription> {
  const sub = await deps.webhooks.get(id);
  if (!sub) throw notFound("Webhook", id);
  return sub;
}

// PATCH /api/v1/webhooks/{id}
export async function updateWebhook(deps: WebhookDeps, id: string, input: UpdateWebhookInput, ctx: RequestContext) {
  await assertSegment(deps, input.segmentId);
  const before = await deps.webhooks.get(id);
  const patch: WebhookSubscriptionPatch = {};
  if (input.url !== undefined) patch.url = input.url;
  if (input.segmentId !== undefined) patch.segmentId = input.segmentId;
  if (input.events !== undefined) patch.events = input.events;
  if (input.description !== undefined) patch.description = input.description;
  if (input.enabled !== undefined) patch.enabled = input.enabled;
  if (input.secret !== undefined) {
    patch.secretCiphertext = sealSecret(input.secret, deps.secretKey);
    patch.secretHint = secretHint(input.secret);
  }
  const sub = await deps.webhooks.update(id, patch, ctx.now, input.enabled === false ? `disabled by ${ctx.actor}` : undefined);
  if (!sub) throw notFound("Webhook", id);
  await record(deps, ctx, input.secret !== undefined ? "webhook.update_and_rotate_secret" : "webhook.update", id, before, sub);
  return input.secret !== undefined ? { ...sub, secret: input.secret } : sub;
}

// DELETE /api/v1/webhooks/{id}
export async function deleteWebhook(deps: WebhookDeps, id: string, ctx?: RequestContext): Promise<void> {
  const before = await deps.webhooks.get(id);
  if (!(await deps.webhooks.delete(id))) throw notFound("Webhook", id);
  if (ctx) await record(deps, ctx, "webhook.delete", id, before, null);
}

// GET /api/v1/webhooks/{id}/deliveries
export async function listDeliveries(
  deps: WebhookDeps,
  id: string,
  page: { before?: string; limit: number; status?: "pending" | "delivered" | "failed" },
) {
  await getWebhook(deps, id);
  return deps.webhooks.deliveries(id, page);
}
