import { json, route, uuidParam } from "@/lib/http/route";
import { deleteWebhook, getWebhook, updateWebhook } from "@/lib/services/webhooks";
import { updateWebhookSchema } from "@/lib/webhooks/webhook";

// GET /api/v1/webhooks/{id} — the subscription (never its secret), with why it is disabled if it is
export const GET = route({ scope: "read" }, async ({ params, rt }) =>
  json(await getWebhook(rt.integrations.webhooks, uuidParam(params, "webhookId", "Webhook"))),
);

// PATCH /api/v1/webhooks/{id} — change fields; enabled:true re-enables (clears failures), secret rotates
export const PATCH = route({ scope: "write", body: updateWebhookSchema }, async ({ params, body, actor, traceId, now, rt }) =>
  json(await updateWebhook(rt.integrations.webhooks, uuidParam(params, "webhookId", "Webhook"), body, { actor: actor.id, traceId, now })),
);

// DELETE /api/v1/webhooks/{id} — the subscription and its delivery log
export const DELETE = route({ scope: "write" }, async ({ params, actor, traceId, now, rt }) => {
  await deleteWebhook(rt.integrations.webhooks, uuidParam(params, "webhookId", "Webhook"), { actor: actor.id, traceId, now });
  return json(null, 204);
});
