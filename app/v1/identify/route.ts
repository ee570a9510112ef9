import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /v1/identify — the same as /api/v1/segment/identify, where Segment's SDKs send it given only a host
export const POST = segmentCallRoute("identify");
