/** Batch runs of campaigns. */
export interface CampaignRun {
  id: string;
  campaignId: string;
  status: "SCHEDULED" | "RUNNING" | "PAUSED" | "COMPLETED" | "FAILED";
  scheduledAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  total: number | null;
  cursor: string | null;
}

export interface RunProgress {
  sent: number;
  skipped: number;
  failed: number;
  queued: number;
}

export interface RunStore {
  create(run: { campaignId: string; requestedBy: string; scheduledAt: Date }): Promise<CampaignRun>;
  /** Takes a due SCHEDULED run (or a RUNNING one whose worker died) for this worker; null when none. */
  claimDue(now: Date, staleBefore: Date): Promise<CampaignRun | null>;
  /** Records how far the run got (also a heartbeat: a live run is never taken over). */
  advance(id: string, fields: Partial<Pick<CampaignRun, "status" | "cursor" | "total" | "startedAt" | "finishedAt">>, now: Date): Promise<void>;
  get(id: string): Promise<CampaignRun | null>;
  ofCampaign(campaignId: string, limit: number): Promise<CampaignRun[]>;
  progress(runId: string): Promise<RunProgress>;
}
