/** How far the processors have got evaluating a segment's latest definition. */
export interface EvaluationProgress {
  version: number;
  usersTotal: number;
  usersRemaining: number;
  updatedAt: Date;
}

export interface EvaluationProgressStore {
  /** One processor instance reports its part. */
  report(instanceId: string, rows: { segmentId: string; version: number; usersTotal: number; usersRemaining: number }[]): Promise<void>;
  /** The sum over instances for the segment's given version, or null when none reported. */
  of(segmentId: string, version: number): Promise<EvaluationProgress | null>;
}
