import * as Aerospike from "aerospike";
import type { CurrentMembership, MemberPage, MembershipChange, MembershipStore } from "@/lib/ports/memberships";

/**
 * Current memberships in Aerospike (the serving store; history stays in PostgreSQL).
 *
 * Layout: one record per user in `<namespace>.<set>` (key = user id) with
 *   - bin `segs`: a key-ordered map segmentId → [enteredAtMs, definitionVersion]
 *   - bin `uid`:  the user id (record keys are stored as digests only, so queries could not
 *                 return the user id otherwise)
 * and a secondary index `<set>_segs_keys` (`memberships_segs_keys` for the default set) on the
 * map keys of `segs` (MAPKEYS, STRING). Index names are unique per namespace, hence the set prefix.
 *
 * - apply():      the final state per (user, segment) of the batch, grouped per user into one
 *                 batch-write record of map operations (maps.put / maps.removeByKey): one
 *                 client.batchWrite round trip per batch of up to MAX_BATCH_RECORDS users.
 * - segmentsOf(): one get.
 * - members() / countMembers(): one secondary-index query (filter.contains on MAPKEYS).
 *
 * Known limit: Aerospike queries are unordered and cannot start "after" a user id, so members()
 * collects every member of the segment, sorts the user ids and pages in memory: each page costs
 * O(members of the segment), and so does countMembers(). Fine for modest segments; for large ones
 * the better design is a per-segment member index (e.g. records `<segmentId>:<bucket>` holding a
 * key-ordered map userId → enteredAt, read with maps.getByKeyRange from the cursor, and a size
 * bin or maps.size for the count), maintained in the same batch as the user record.
 *
 * Other notes: exiting the last segment leaves the user's record with an empty map (harmless;
 * eraseUser() removes it). Deletes are not durable unless `durableDelete` is set (Enterprise
 * Edition only): on Community Edition a cold restart can resurrect erased records.
 */

export const DEFAULT_NAMESPACE = "audience";
export const DEFAULT_SET = "memberships";
export const SEGS_BIN = "segs";
export const UID_BIN = "uid";
/** The map-keys index of a set: index names are unique per namespace, so each set gets its own. */
export const segsIndexName = (set: string) => `${set}_segs_keys`;
/** Users per batch request: keeps one request bounded (servers can cap the keys of a batch). */
export const MAX_BATCH_RECORDS = 5000;
const DEFAULT_PORT = 3000;

/** [enteredAtMs, definitionVersion] — the value stored per segment in the `segs` map. */
export type SegmentEntry = [enteredAtMs: number, version: number];

/** What one batch does to one user's record. */
export interface UserWrite {
  userId: string;
  put: { segmentId: string; entry: SegmentEntry }[];
  remove: string[];
}

export interface MemberRow {
  userId: string;
  enteredAtMs: number;
}

export interface AerospikeMembershipStoreOptions {
  /** Seed nodes, "host:port" (port defaults to 3000; IPv6 as "[addr]:port"). */
  hosts: string[];
  /** Default "audience". */
  namespace?: string;
  /** Default "memberships". */
  set?: string;
  /** Connect/login timeout in ms (default 2000). */
  connectTimeoutMs?: number;
  /** How long to wait for the secondary index to be built at start (default 10000). */
  indexReadyTimeoutMs?: number;
  /** Write tombstones on eraseUser (Enterprise Edition only). Default false. */
  durableDelete?: boolean;
}

export type AerospikeMembershipStore = MembershipStore & { close(): Promise<void> };

// ---------------------------------------------------------------------------------------------
// Pure helpers (unit-tested in aerospike.test.ts)
// ---------------------------------------------------------------------------------------------

/**
 * The last change per (user, segment) decides the state (same rule as the PostgreSQL adapter's
 * finalStates), grouped per user in order of first appearance.
 */
export function planWrites(changes: readonly MembershipChange[]): UserWrite[] {
  const last = new Map<string, MembershipChange>();
  for (const c of changes) last.set(`${c.userId}\u0000${c.segmentId}`, c);
  const byUser = new Map<string, UserWrite>();
  for (const c of last.values()) {
    let w = byUser.get(c.userId);
    if (!w) byUser.set(c.userId, (w = { userId: c.userId, put: [], remove: [] }));
    if (c.kind === "enter") w.put.push({ segmentId: c.segmentId, entry: [c.at, c.version] });
    else w.remove.push(c.segmentId);
  }
  return [...byUser.values()];
}

/** A write that only removes entries must not create the record (exists = UPDATE). */
export const isExitOnly = (w: UserWrite) => w.put.length === 0;

/**
 * The batch-write records for a plan: per user one BATCH_WRITE with maps.removeByKey per exit,
 * maps.put per entry (creating a key-ordered map if needed) and the `uid` bin. Exit-only records
 * carry exists = UPDATE, so exits for an unknown user answer ERR_RECORD_NOT_FOUND instead of
 * creating an empty record.
 */
export function buildBatchRecords(
  writes: readonly UserWrite[],
  target: { namespace: string; set: string },
): Aerospike.BatchWriteRecord[] {
  const mapPolicy = new Aerospike.MapPolicy({ order: Aerospike.maps.order.KEY_ORDERED });
  return writes.map((w) => {
    const ops: Aerospike.operations.Operation[] = [
      ...w.remove.map((segmentId) => Aerospike.maps.removeByKey(SEGS_BIN, segmentId, Aerospike.maps.returnType.NONE)),
      ...w.put.map(({ segmentId, entry }) => Aerospike.maps.put(SEGS_BIN, segmentId, [entry[0], entry[1]], mapPolicy)),
    ];
    if (!isExitOnly(w)) ops.push(Aerospike.operations.write(UID_BIN, w.userId));
    const record: Aerospike.BatchWriteRecord = {
      type: Aerospike.batchType.BATCH_WRITE,
      key: new Aerospike.Key(target.namespace, target.set, w.userId),
      ops,
    };
    if (isExitOnly(w)) record.policy = new Aerospike.BatchWritePolicy({ exists: Aerospike.policy.exists.UPDATE });
    return record;
  });
}

/**
 * Throws unless every record of the batch was applied. batchWrite resolves (rather than rejects)
 * when only some records fail, so each status is checked; ERR_RECORD_NOT_FOUND is expected for
 * exit-only writes to users without a record.
 */
export function assertBatchApplied(
  writes: readonly UserWrite[],
  results: readonly { status: Aerospike.BatchResult["status"]; inDoubt?: boolean }[],
): void {
  const failed: string[] = [];
  writes.forEach((w, i) => {
    const r = results[i];
    if (!r) {
      failed.push(`${w.userId}: no result`);
      return;
    }
    if (r.status === Aerospike.status.OK) return;
    if (r.status === Aerospike.status.ERR_RECORD_NOT_FOUND && isExitOnly(w)) return;
    failed.push(`${w.userId}: status ${r.status} (${Aerospike.status.getMessage(r.status)})${r.inDoubt ? ", in doubt" : ""}`);
  });
  if (failed.length > 0) {
    throw new Error(
      `Aerospike batch write failed for ${failed.length} of ${writes.length} users: ${failed.slice(0, 5).join("; ")}${failed.length > 5 ? "; …" : ""}`,
    );
  }
}

function asEntry(value: unknown): SegmentEntry | null {
  if (!Array.isArray(value) || value.length < 2) return null;
  const at = Number(value[0]);
  const version = Number(value[1]);
  return Number.isFinite(at) && Number.isFinite(version) ? [at, version] : null;
}

function mapEntries(segs: unknown): [string, unknown][] {
  if (segs instanceof Map) return [...segs.entries()].map(([k, v]) => [String(k), v]);
  if (segs && typeof segs === "object" && !Array.isArray(segs)) return Object.entries(segs);
  return [];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The `segs` bin as the port's memberships, ordered by enteredAt then segmentId. */
export function parseSegments(segs: unknown): CurrentMembership[] {
  const out: CurrentMembership[] = [];
  for (const [segmentId, value] of mapEntries(segs)) {
    const e = asEntry(value);
    if (e) out.push({ segmentId, enteredAt: new Date(e[0]), version: e[1] });
  }
  return out.sort((a, b) => a.enteredAt.getTime() - b.enteredAt.getTime() || byString(a.segmentId, b.segmentId));
}

/** One query result as a member of the segment, or null (no uid, or no longer a member). */
export function memberRow(bins: Record<string, unknown> | null | undefined, segmentId: string): MemberRow | null {
  const userId = bins?.[UID_BIN];
  if (typeof userId !== "string") return null;
  const entry = asEntry(Object.fromEntries(mapEntries(bins?.[SEGS_BIN]))[segmentId]);
  return entry ? { userId, enteredAtMs: entry[0] } : null;
}

/**
 * Pages collected members in user-id order after the cursor (the last user id of the previous
 * page), like the PostgreSQL adapter: `next` is the page's last user id when more follow.
 */
export function pageMembers(rows: readonly MemberRow[], page: { after?: string; limit: number; prefix?: string }): MemberPage {
  const unique = new Map<string, MemberRow>();
  for (const r of rows) {
    if (page.after !== undefined && !(r.userId > page.after)) continue;
    if (page.prefix && !r.userId.startsWith(page.prefix)) continue;
    unique.set(r.userId, r);
  }
  const sorted = [...unique.values()].sort((a, b) => byString(a.userId, b.userId));
  const limit = Math.max(0, page.limit);
  const members = sorted.slice(0, limit).map((r) => ({ userId: r.userId, enteredAt: new Date(r.enteredAtMs) }));
  return { members, next: sorted.length > limit && members.length > 0 ? members[members.length - 1]!.userId : null };
}

/** "host:port" / "host" / "[v6]:port" → the client's Host objects. */
export function parseHosts(hosts: readonly string[]): Aerospike.Host[] {
  const list = hosts.map((h) => h.trim()).filter((h) => h.length > 0);
  if (list.length === 0) throw new Error("Aerospike: no hosts given (set AEROSPIKE_HOSTS to host:port,…)");
  return list.map((h) => {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(h) ?? /^([^:]+)(?::(\d+))?$/.exec(h);
    const port = m?.[2] === undefined ? DEFAULT_PORT : Number(m[2]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`Aerospike: invalid host "${h}" (expected host:port in AEROSPIKE_HOSTS)`);
    }
    return { addr: m[1]!, port };
  });
}

/** AEROSPIKE_HOSTS ("h1:3000,h2:3000") as a host list. */
export const hostsFromEnv = (value: string | undefined): string[] =>
  (value ?? "").split(",").map((h) => h.trim()).filter((h) => h.length > 0);

function hasCode(error: unknown, code: number): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** Closes without masking the caller's error (close() throws if the event loop was never set up). */
function closeQuietly(client: Aerospike.Client) {
  try {
    client.close();
  } catch {
    // nothing to release
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------

async function ensureSegsIndex(client: Aerospike.Client, namespace: string, set: string, readyTimeoutMs: number) {
  let job: Aerospike.IndexJob;
  try {
    job = await client.createIndex(
      {
        ns: namespace,
        set,
        bin: SEGS_BIN,
        index: segsIndexName(set),
        type: Aerospike.indexType.MAPKEYS,
        datatype: Aerospike.indexDataType.STRING,
      },
      new Aerospike.InfoPolicy({ timeout: readyTimeoutMs }),
    );
  } catch (error) {
    if (hasCode(error, Aerospike.status.ERR_INDEX_FOUND)) return;
    throw error;
  }
  // Wait (bounded) until every node reports the index fully built (IndexJob#info answers one
  // { load_pct } per node; the typings declare the generic job info). Own loop rather than
  // job.wait(), which polls without a deadline. A timeout is not fatal: a query on an index still
  // being built fails with a server error rather than answering wrongly.
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    try {
      const perNode = (await job.info()) as unknown as Aerospike.SindexInfo[];
      if (perNode.length > 0 && perNode.every((n) => Number(n.load_pct) === 100)) return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Connects to the cluster, creates the map-keys index if missing, and answers the store. Throws
 * an error naming AEROSPIKE_HOSTS when the cluster cannot be reached.
 */
export async function createAerospikeMembershipStore(options: AerospikeMembershipStoreOptions): Promise<AerospikeMembershipStore> {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const set = options.set ?? DEFAULT_SET;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const hosts = parseHosts(options.hosts);
  const where = hosts.map((h) => `${h.addr}:${h.port}`).join(",");

  const client = Aerospike.client({ hosts, connTimeoutMs: connectTimeoutMs, loginTimeoutMs: connectTimeoutMs });
  try {
    await client.connect();
  } catch (error) {
    // Closing also unreferences the client's event loop, which would otherwise keep the process alive.
    closeQuietly(client);
    throw new Error(
      `Cannot connect to Aerospike at ${where}: ${error instanceof Error ? error.message : String(error)}. ` +
        "Check AEROSPIKE_HOSTS (host:port,…) and that the cluster is reachable.",
      { cause: error },
    );
  }
  try {
    await ensureSegsIndex(client, namespace, set, options.indexReadyTimeoutMs ?? 10_000);
  } catch (error) {
    closeQuietly(client);
    throw new Error(
      `Aerospike at ${where} (AEROSPIKE_HOSTS): cannot create index ${segsIndexName(set)} on ${namespace}.${set}: ` +
        `${error instanceof Error ? error.message : String(error)} (does namespace "${namespace}" exist?)`,
      { cause: error },
    );
  }

  const target = { namespace, set };
  const keyOf = (userId: string) => new Aerospike.Key(namespace, set, userId);
  // Every operation of a batch is idempotent (put of a final value, remove by key): retrying is safe.
  const batchPolicy = new Aerospike.BatchPolicy({ maxRetries: 2 });
  const removePolicy = options.durableDelete ? new Aerospike.RemovePolicy({ durableDelete: true }) : null;
  const segmentQuery = (segmentId: string, select: string[]) =>
    client.query(namespace, set, {
      filters: [Aerospike.filter.contains(SEGS_BIN, segmentId, Aerospike.indexType.MAPKEYS)],
      select,
    });
  let closed = false;

  return {
    async apply(changes) {
      if (changes.length === 0) return;
      for (const writes of chunks(planWrites(changes), MAX_BATCH_RECORDS)) {
        const results = await client.batchWrite(buildBatchRecords(writes, target), batchPolicy);
        assertBatchApplied(writes, results);
      }
    },

    async segmentsOf(userId) {
      try {
        const record = await client.get(keyOf(userId));
        return parseSegments(record.bins[SEGS_BIN]);
      } catch (error) {
        if (hasCode(error, Aerospike.status.ERR_RECORD_NOT_FOUND)) return [];
        throw error;
      }
    },

    async members(segmentId, page) {
      const records = await segmentQuery(segmentId, [UID_BIN, SEGS_BIN]).results();
      const rows = records.map((r) => memberRow(r.bins, segmentId)).filter((r): r is MemberRow => r !== null);
      return pageMembers(rows, page);
    },

    async countMembers(segmentId) {
      const records = await segmentQuery(segmentId, [UID_BIN, SEGS_BIN]).results();
      const users = new Set<string>();
      for (const r of records) {
        const row = memberRow(r.bins, segmentId);
        if (row) users.add(row.userId);
      }
      return users.size;
    },

    async eraseUser(userId) {
      try {
        await client.remove(keyOf(userId), removePolicy);
      } catch (error) {
        if (!hasCode(error, Aerospike.status.ERR_RECORD_NOT_FOUND)) throw error;
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
