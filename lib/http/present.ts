import type { Segment } from "@/lib/segments/model";

/** The API shape of a segment: the stored definition without internal bookkeeping. */
export function presentSegment<S extends Segment>(segment: S) {
  const { deletedAt: _deleted, ...rest } = segment;
  return rest;
}
