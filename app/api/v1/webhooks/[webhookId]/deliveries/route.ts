import { json, route, uuidParam } from "@/lib/http/route";
import { listDeliveries } from "@/lib/services/webhooks";
import { deliveryListQuerySchema } from "@/lib/webhooks/webhook";

// GET /api/v1/webhooks/{id}/deliveries — the delivery log, newest first: status, attempts, response codes
export const GET = route({ scope: "read", query: deliveryListQuerySchema }, async ({ params, query, rt }) =>
  json(await listDeliveries(rt.integrations.webhooks, uuidParam(params, "webhookId", "Webhook"), query)),
);
