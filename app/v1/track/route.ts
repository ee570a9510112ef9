import { segmentCallRoute } from "@/lib/http/segment-route";

// POST /v1/track — the same as /api/v1/segment/track, where Segment's SDKs send it given only a host
export const POST = segmentCallRoute("track");
