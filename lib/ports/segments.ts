import type { ListSegmentsQuery } from "@/lib/segments/definition";
import type { Segment, SegmentDefinition, SegmentStats } from "@/lib/segments/model";

/** A row for the append-only audit log. */
export interface AuditEntry {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  traceId: string | null;
  at: Date;
}

/** A message to publish on the event log once the surrounding transaction commits. */
export interface OutboxMessage {
  topic: string;
  key: string;
  payload: unknown;
  headers?: Record<string, string>;
}

/** What a definition change may do inside its transaction. */
export interface DefinitionTx {
  get(id: string): Promise<Segment | null>;
  /** Live (not deleted) segments among `ids`. */
  findLive(ids: readonly string[]): Promise<{ id: string; name: string }[]>;
  /** Whether a live segment other than `exceptId` has this name (case-insensitive). */
  nameTaken(name: string, exceptId?: string): Promise<boolean>;
  /** Live derived segments → the segments they reference. */
  dependencyGraph(): Promise<Map<string, string[]>>;
  /** Live segments whose expression references `id`. */
  dependents(id: string): Promise<{ id: string; name: string }[]>;
  /** Inserts or replaces the segment with its rules and dependencies, and records its version. */
  save(segment: Segment, options: { isNew: boolean }): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  enqueue(message: OutboxMessage): Promise<void>;
}

export interface SegmentPage {
  items: Segment[];
  total: number;
}

export interface SegmentVersion {
  version: number;
  definition: unknown;
  changedBy: string;
  changedAt: Date;
}

/** Segment definitions in PostgreSQL (or PGlite). */
export interface SegmentStore {
  /**
   * Runs `fn` in one transaction, serialised with every other definition change, so that name
   * checks and cycle checks see a graph no concurrent change can alter.
   */
  transaction<T>(fn: (tx: DefinitionTx) => Promise<T>): Promise<T>;
  /** A live segment, or null when unknown or deleted. */
  get(id: string): Promise<Segment | null>;
  list(query: ListSegmentsQuery): Promise<SegmentPage>;
  stats(id: string, since: Date): Promise<SegmentStats>;
  versions(id: string): Promise<SegmentVersion[]>;
  /** Every definition, deleted ones included (flagged), for the evaluation engine. */
  evaluationDefinitions(): Promise<(SegmentDefinition & { deleted: boolean })[]>;
  /** Names of the given segments (deleted ones included). */
  names(ids: readonly string[]): Promise<Map<string, string>>;
}
