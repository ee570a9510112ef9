import path from "node:path";
import { mkdirSync } from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

export type Schema = typeof schema;
/** Drizzle over either driver: PostgreSQL (node-postgres) or PGlite. Same schema, same queries. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  /** Runs raw SQL text (migrations, admin). */
  exec(sqlText: string): Promise<void>;
  /** Applies the committed SQL migrations; concurrent starters wait for each other. */
  migrate(migrationsFolder?: string): Promise<void>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");

/** Opens PostgreSQL through a pg Pool. */
export async function openPostgres(url: string, options: { max?: number } = {}): Promise<DatabaseHandle> {
  const { Pool } = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const pool = new Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const db = drizzle({ client: pool, schema }) as unknown as Database;
  let closed = false;
  return {
    db,
    kind: "postgres",
    exec: async (sqlText) => {
      await pool.query(sqlText);
    },
    migrate: async (migrationsFolder = MIGRATIONS_DIR) => {
      const { migrate: run } = await import("drizzle-orm/node-postgres/migrator");
      // Several processes (pm2 cluster, workers) may start at once: one migrates, the rest wait.
      const client = await pool.connect();
      try {
        await client.query("select pg_advisory_lock(7265110001)");
        await run(drizzle({ client, schema }), { migrationsFolder });
      } finally {
        await client.query("select pg_advisory_unlock(7265110001)").catch(() => {});
        client.release();
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Opens PGlite: on disk under `dataDir`, or in memory when dataDir is undefined.
 * PGlite is single-process: exactly one process may own a data directory.
 */
export async function openPglite(dataDir?: string): Promise<DatabaseHandle> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir ? { dataDir } : {});
  const db = drizzle({ client, schema }) as unknown as Database;
  let closed = false;
  return {
    db,
    kind: "pglite",
    exec: async (sqlText) => {
      await client.exec(sqlText);
    },
    migrate: async (migrationsFolder = MIGRATIONS_DIR) => {
      const { migrate: run } = await import("drizzle-orm/pglite/migrator");
      await run(drizzle({ client, schema }), { migrationsFolder });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}
