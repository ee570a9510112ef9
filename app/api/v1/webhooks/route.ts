import { json, route } from "@/lib/http/route";
import { createWebhook, listWebhooks } from "@/lib/services/webhooks";
import { createWebhookSchema, webhookListQuerySchema } from "@/lib/webhooks/webhook";

// GET /api/v1/webhooks — webhook subscriptions, oldest first (cursor: ?after=)
export const GET = route({ scope: "read", query: webhookListQuerySchema }, async ({ query, rt }) =>
  json(await listWebhooks(rt.integrations.webhooks, query)),
);

// POST /api/v1/webhooks — subscribe a URL to a segment's (or every segment's) entries and exits; the secret is in this response only
export const POST = route({ scope: "write", body: createWebhookSchema }, async ({ body, actor, traceId, now, rt }) =>
  json(await createWebhook(rt.integrations.webhooks, body, { actor: actor.id, traceId, now }), 201),
);
