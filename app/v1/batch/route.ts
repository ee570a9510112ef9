import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /v1/batch — the same as /api/v1/segment/batch, where Segment's SDKs send it given only a host
export const POST = segmentCallRoute("batch");
