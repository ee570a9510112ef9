/** A committed change waiting to be published. */
export interface OutboxRow {
  id: number;
  topic: string;
  key: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface OutboxStore {
  /**
   * Takes up to `limit` of the oldest unpublished rows, calls `publish` with them in id order,
   * and marks them published in the same transaction. Only one relay drains at a time across
   * processes; the others get 0. Returns how many rows were published.
   * If `publish` throws, nothing is marked and the error propagates.
   */
  drain(limit: number, publish: (rows: OutboxRow[]) => Promise<void>): Promise<number>;
}
