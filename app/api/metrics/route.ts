import { authenticateRequest, route } from "@/lib/http/route";
import { metricsText } from "@/lib/metrics";
import { bearerMatches } from "@/lib/metrics/server";
import { requireScope } from "@/lib/services/auth";

// GET /api/metrics — Prometheus exposition of this web process; Bearer METRICS_TOKEN, or any credential with the admin scope
export const GET = route({ scope: "public" }, async ({ req, rt, now }) => {
  const token = rt.env.METRICS_TOKEN;
  if (!token || !bearerMatches(req.headers.get("authorization"), token)) {
    requireScope(await authenticateRequest(rt, req, now), "admin");
  }
  const { body, contentType } = await metricsText();
  return new Response(body, { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" } });
});
