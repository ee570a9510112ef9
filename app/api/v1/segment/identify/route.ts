import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /api/v1/segment/identify — Segment HTTP Tracking API `identify` (write key as the Basic auth user name)
export const POST = segmentCallRoute("identify");
