import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /api/v1/segment/batch — Segment HTTP Tracking API `batch` (write key as the Basic auth user name)
export const POST = segmentCallRoute("batch");
