import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Seed §4 User profile: contact points and attributes used by campaigns and templates. */
export const userProfiles = pgTable("user_profiles", {
  userId: text("user_id").primaryKey(),
  email: text("email"),
  phone: text("phone"),
  deviceTokens: jsonb("device_tokens").notNull().default([]),
  timezone: text("timezone"),
  attributes: jsonb("attributes").notNull().default({}),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});
