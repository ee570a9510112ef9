import { defineConfig } from "drizzle-kit";

// Migrations are generated from db/schema and committed; the app applies them at start on
// PostgreSQL and on PGlite alike (db/migrate.ts). `npm run db:generate` needs no database.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
  strict: true,
});
