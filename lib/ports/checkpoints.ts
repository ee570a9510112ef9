/** Worker state per input partition, saved with the offset it covers. */
export interface Checkpoint {
  /** The last offset whose effects the snapshot includes. */
  offset: string;
  snapshot: Buffer;
}

export interface CheckpointStore {
  load(groupId: string, topic: string, partition: number): Promise<Checkpoint | null>;
  save(groupId: string, topic: string, partition: number, checkpoint: Checkpoint): Promise<void>;
}
