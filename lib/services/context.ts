/** Who asks, under which trace, and when: passed to every use case. */
export interface RequestContext {
  actor: string;
  traceId: string;
  now: Date;
}
