import { z } from "zod";

/** GET /api/v1/users/{id}/events: the user's most recent archived events (the archive keeps 24 h). Pure. */
export const userEventsQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(500, { message: "must be at most 500" })
    .default(50),
});
export type UserEventsQuery = z.output<typeof userEventsQuerySchema>;

/** GET /api/v1/users: recently active users. */
export const activeUsersQuerySchema = z.object({
  minutes: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(1440, { message: "must be at most 1440" })
    .default(60),
  limit: z.coerce
    .number({ error: "must be a number" })
    .int({ message: "must be a whole number" })
    .min(1, { message: "must be at least 1" })
    .max(100, { message: "must be at most 100" })
    .default(20),
});
