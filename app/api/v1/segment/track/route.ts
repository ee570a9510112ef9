import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /api/v1/segment/track — Segment HTTP Tracking API `track` (write key as the Basic auth user name)
export const POST = segmentCallRoute("track");
