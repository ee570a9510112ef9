import { json, route } from "@/lib/http/route";

// GET /api/health/live — public: the process is up and serving (no dependency is checked)
export const GET = route({ scope: "public", rateLimit: false }, async () =>
  json({ status: "live", pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }, 200, { "cache-control": "no-store" }),
);
