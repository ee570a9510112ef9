import { asc, eq, sql } from "drizzle-orm";
import { userSegmentMemberships } from "@/db/schema";
import type { Database } from "@/db/client";
import type {
  CurrentMembership,
  HistoryEntry,
  MembershipChange,
  MembershipHistory,
  MembershipStore,
  TransitionCause,
} from "@/lib/ports/memberships";

/** Both drivers answer execute() with { rows }. */
async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The last change per (user, segment) decides the current state: applying a batch in order is
 * the same as applying its final state per pair.
 */
function finalStates(changes: readonly MembershipChange[]) {
  const last = new Map<string, MembershipChange>();
  for (const c of changes) last.set(`${c.userId}\u0000${c.segmentId}`, c);
  const enter: MembershipChange[] = [];
  const exit: MembershipChange[] = [];
  for (const c of last.values()) (c.kind === "enter" ? enter : exit).push(c);
  return { enter, exit };
}

/** Current memberships in PostgreSQL (or PGlite): one row per (user, segment). */
export function createPgMembershipStore(db: Database): MembershipStore {
  // The serving read (GET /users/{id}/segments, thousands a second): a named prepared statement,
  // parsed and planned once per connection instead of on every call.
  const m = userSegmentMemberships;
  const segmentsOfUser = db
    .select({ segmentId: m.segmentId, enteredAt: m.enteredAt, version: m.definitionVersion })
    .from(m)
    .where(eq(m.userId, sql.placeholder("userId")))
    .orderBy(asc(m.enteredAt), asc(m.segmentId))
    .prepare("user_segments_of");
  return {
    async apply(changes) {
      if (changes.length === 0) return;
      const { enter, exit } = finalStates(changes);
      await db.transaction(async (tx) => {
        if (exit.length > 0) {
          await tx.execute(sql`
            delete from user_segment_memberships m
            using unnest(${sql.param(exit.map((c) => c.userId))}::text[], ${sql.param(exit.map((c) => c.segmentId))}::uuid[]) as x(user_id, segment_id)
            where m.user_id = x.user_id and m.segment_id = x.segment_id`);
        }
        if (enter.length > 0) {
          await tx.execute(sql`
            insert into user_segment_memberships (user_id, segment_id, entered_at, definition_version)
            select * from unnest(${sql.param(enter.map((c) => c.userId))}::text[], ${sql.param(enter.map((c) => c.segmentId))}::uuid[],
                                 ${sql.param(enter.map((c) => iso(c.at)))}::timestamptz[], ${sql.param(enter.map((c) => c.version))}::int[])
            on conflict (user_id, segment_id) do update
              set entered_at = excluded.entered_at, definition_version = excluded.definition_version`);
        }
      });
    },

    async segmentsOf(userId) {
      const r = await segmentsOfUser.execute({ userId });
      return r.map((x): CurrentMembership => ({ segmentId: x.segmentId, enteredAt: new Date(x.enteredAt), version: Number(x.version) }));
    },

    async members(segmentId, { after, limit, prefix }) {
      const r = await rows<{ user_id: string; entered_at: string | Date }>(
        db,
        sql`select user_id, entered_at from user_segment_memberships
            where segment_id = ${segmentId} ${after !== undefined ? sql`and user_id > ${after}` : sql``}
              ${prefix ? sql`and starts_with(user_id, ${prefix})` : sql``}
            order by user_id limit ${limit + 1}`,
      );
      const page = r.slice(0, limit).map((x) => ({ userId: x.user_id, enteredAt: new Date(x.entered_at) }));
      return { members: page, next: r.length > limit ? page[page.length - 1]!.userId : null };
    },

    async countMembers(segmentId) {
      const [r] = await rows<{ n: string | number }>(
        db,
        sql`select count(*) as n from user_segment_memberships where segment_id = ${segmentId}`,
      );
      return Number(r?.n ?? 0);
    },

    async eraseUser(userId) {
      await db.execute(sql`delete from user_segment_memberships where user_id = ${userId}`);
    },
  };
}

/** Entry/exit history in PostgreSQL (or PGlite). */
export function createPgMembershipHistory(db: Database): MembershipHistory {
  return {
    async record(changes) {
      if (changes.length === 0) return;
      const enters = changes.filter((c) => c.kind === "enter");
      const exits = changes.filter((c) => c.kind === "exit");
      await db.transaction(async (tx) => {
        if (enters.length > 0) {
          await tx.execute(sql`
            insert into user_segment_history (user_id, segment_id, entered_at, enter_cause, definition_version)
            select * from unnest(${sql.param(enters.map((c) => c.userId))}::text[], ${sql.param(enters.map((c) => c.segmentId))}::uuid[],
                                 ${sql.param(enters.map((c) => iso(c.at)))}::timestamptz[], ${sql.param(enters.map((c) => c.cause))}::text[],
                                 ${sql.param(enters.map((c) => c.version))}::int[])
            on conflict (user_id, segment_id, entered_at) do nothing`);
        }
        if (exits.length > 0) {
          // Each exit closes the latest open entry at or before it: with entries inserted
          // first, enter-exit-enter-exit within one batch pairs up correctly, and a replayed
          // exit finds nothing open.
          await tx.execute(sql`
            update user_segment_history h set exited_at = x.at, exit_cause = x.cause
            from unnest(${sql.param(exits.map((c) => c.userId))}::text[], ${sql.param(exits.map((c) => c.segmentId))}::uuid[],
                        ${sql.param(exits.map((c) => iso(c.at)))}::timestamptz[], ${sql.param(exits.map((c) => c.cause))}::text[]) as x(user_id, segment_id, at, cause)
            where h.id = (
              select h2.id from user_segment_history h2
              where h2.user_id = x.user_id and h2.segment_id = x.segment_id
                and h2.exited_at is null and h2.entered_at <= x.at
              order by h2.entered_at desc limit 1)`);
        }
      });
    },

    async ofUser(userId, { before, limit }) {
      // Cursor: "<entered_at ISO>|<id>", newest first.
      let cursor = sql``;
      if (before) {
        const [at, id] = before.split("|");
        if (at && id && !Number.isNaN(Date.parse(at)) && /^\d+$/.test(id)) {
          cursor = sql`and (entered_at, id) < (${at}::timestamptz, ${Number(id)})`;
        }
      }
      const r = await rows<{
        id: string | number;
        segment_id: string;
        entered_at: string | Date;
        exited_at: string | Date | null;
        enter_cause: TransitionCause;
        exit_cause: TransitionCause | null;
        definition_version: number;
      }>(
        db,
        sql`select id, segment_id, entered_at, exited_at, enter_cause, exit_cause, definition_version
            from user_segment_history where user_id = ${userId} ${cursor}
            order by entered_at desc, id desc limit ${limit + 1}`,
      );
      const page = r.slice(0, limit);
      const entries = page.map(
        (x): HistoryEntry => ({
          segmentId: x.segment_id,
          enteredAt: new Date(x.entered_at),
          exitedAt: x.exited_at === null ? null : new Date(x.exited_at),
          enterCause: x.enter_cause,
          exitCause: x.exit_cause,
          definitionVersion: Number(x.definition_version),
        }),
      );
      const last = page[page.length - 1];
      return {
        entries,
        next: r.length > limit && last ? `${new Date(last.entered_at).toISOString()}|${last.id}` : null,
      };
    },

    async eraseUser(userId) {
      await db.execute(sql`delete from user_segment_history where user_id = ${userId}`);
    },
  };
}

/**
 * Memberships and history of a batch of transitions in ONE statement (one round trip, one
 * implicit transaction, one WAL flush) — what the segment processor writes per batch. Same
 * results as `MembershipStore.apply` followed by `MembershipHistory.record`:
 *
 * - memberships: the last change per (user, segment) decides (delete for exits, upsert for entries);
 * - history: the batch is paired up here, in order: an exit closes the latest entry of this batch
 *   that is still open and not after it, so an entry and its exit in one batch become one closed
 *   row; the other exits close the latest open row already stored (data-modifying CTEs all see
 *   the state before the statement, which is exactly the stored rows). A replayed entry
 *   (same user, segment, enteredAt) only fills in an exit the stored row lacks.
 *
 * The data travels as one JSON parameter: far cheaper to build than typed arrays per column.
 */
export function createPgTransitionWriter(db: Database): { write(changes: readonly MembershipChange[]): Promise<void> } {
  return {
    async write(changes) {
      if (changes.length === 0) return;
      const { enter, exit } = finalStates(changes);
      // History rows of this batch: [user, segment, enteredAt, cause, version, exitedAt, exitCause].
      type Row = [string, string, string, string, number, string | null, string | null];
      const rowsOf = new Map<string, Row[]>();
      const closing: [string, string, string, string][] = [];
      for (const c of changes) {
        const pair = `${c.userId}\u0000${c.segmentId}`;
        let list = rowsOf.get(pair);
        if (c.kind === "enter") {
          if (!list) rowsOf.set(pair, (list = []));
          list.push([c.userId, c.segmentId, iso(c.at), c.cause, c.version, null, null]);
          continue;
        }
        let open: Row | undefined;
        for (let i = (list?.length ?? 0) - 1; i >= 0; i--) {
          const r = list![i]!;
          if (r[5] === null && Date.parse(r[2]) <= c.at) {
            open = r;
            break;
          }
        }
        if (open) {
          open[5] = iso(c.at);
          open[6] = c.cause;
        } else closing.push([c.userId, c.segmentId, iso(c.at), c.cause]);
      }
      const payload = JSON.stringify({
        d: exit.map((c) => [c.userId, c.segmentId]),
        i: enter.map((c) => [c.userId, c.segmentId, iso(c.at), c.version]),
        h: [...rowsOf.values()].flat(),
        x: closing,
      });
      await db.execute(sql`
        with p as (select ${payload}::jsonb as j),
        m_del as (
          delete from user_segment_memberships m
          using (select e->>0 as user_id, (e->>1)::uuid as segment_id from p, jsonb_array_elements(p.j->'d') e) x
          where m.user_id = x.user_id and m.segment_id = x.segment_id),
        m_ins as (
          insert into user_segment_memberships (user_id, segment_id, entered_at, definition_version)
          select e->>0, (e->>1)::uuid, (e->>2)::timestamptz, (e->>3)::int from p, jsonb_array_elements(p.j->'i') e
          on conflict (user_id, segment_id) do update
            set entered_at = excluded.entered_at, definition_version = excluded.definition_version),
        h_ins as (
          insert into user_segment_history (user_id, segment_id, entered_at, enter_cause, definition_version, exited_at, exit_cause)
          select e->>0, (e->>1)::uuid, (e->>2)::timestamptz, e->>3, (e->>4)::int, (e->>5)::timestamptz, e->>6
          from p, jsonb_array_elements(p.j->'h') e
          on conflict (user_id, segment_id, entered_at) do update
            set exited_at = excluded.exited_at, exit_cause = excluded.exit_cause
            where user_segment_history.exited_at is null and excluded.exited_at is not null),
        h_upd as (
          update user_segment_history h set exited_at = x.at, exit_cause = x.cause
          from (select e->>0 as user_id, (e->>1)::uuid as segment_id, (e->>2)::timestamptz as at, e->>3 as cause
                from p, jsonb_array_elements(p.j->'x') e) x
          where h.id = (
            select h2.id from user_segment_history h2
            where h2.user_id = x.user_id and h2.segment_id = x.segment_id
              and h2.exited_at is null and h2.entered_at <= x.at
            order by h2.entered_at desc limit 1))
        select 1`);
    },
  };
}
