import { z } from "zod";

/** PUT /api/v1/users/{id}/profile: the whole profile (absent fields are cleared). Pure. */
const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const webPushSubscription = z
  .object({
    endpoint: z.string().max(2048).regex(/^https?:\/\/\S+$/, { message: "must be an http(s) URL" }),
    keys: z.object({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }).strict(),
    expirationTime: z.number().nullable().optional(),
  })
  .strict();

export const profileInputSchema = z
  .object({
    email: z.email({ message: "must be an email address" }).max(320).nullable().optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, { message: "must be an E.164 number like +4915112345678" })
      .nullable()
      .optional(),
    deviceTokens: z
      .array(z.union([z.string().min(1).max(4096), webPushSubscription]), { error: "must be an array" })
      .max(20, { message: "at most 20 device tokens" })
      .optional(),
    timezone: z
      .string()
      .refine(isTimeZone, { message: "must be an IANA time zone like Europe/Berlin" })
      .nullable()
      .optional(),
    attributes: z.record(z.string().max(100), z.unknown(), { error: "must be an object" }).optional(),
  })
  .strict()
  .transform((p) => ({
    email: p.email ?? null,
    phone: p.phone ?? null,
    deviceTokens: p.deviceTokens ?? [],
    timezone: p.timezone ?? null,
    attributes: p.attributes ?? {},
  }));
export type ProfileBody = z.output<typeof profileInputSchema>;
