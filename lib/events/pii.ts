/**
 * Personal data is kept out of the event stream (NFR20, docs/privacy.md): events travel through
 * Kafka (or the local log) and stay there for the topic's retention, beyond the reach of an
 * erasure, so they may carry only an opaque user id, the event type and time, and behavioural
 * attributes. Contact points (email addresses, phone numbers, push tokens) belong in the user's
 * profile, which is encrypted at rest and erased on request.
 *
 * This check refuses events whose ids look like an email address or phone number, or whose
 * attributes hold one, at any depth, or use a key that names one. Pure.
 */

/** Attribute keys (lower-cased, without `_`, `-`, `.` and spaces) that name a contact point. */
const CONTACT_KEYS = new Set([
  "email",
  "emailaddress",
  "mail",
  "mailaddress",
  "phone",
  "phonenumber",
  "mobile",
  "mobilenumber",
  "mobilephone",
  "cellphone",
  "msisdn",
  "telephone",
  "tel",
  "devicetoken",
  "pushtoken",
  "fcmtoken",
  "apnstoken",
]);

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]{2,}$/;
/** International form (+ then 7–15 digits, with the usual separators). */
const PHONE = /^\+[1-9][\d\s().-]{5,24}$/;

export interface PersonalDataIssue {
  path: PropertyKey[];
  reason: string;
}

const MAX_DEPTH = 8;

function valueKind(value: string): "an email address" | "a phone number" | null {
  const v = value.trim();
  if (EMAIL.test(v)) return "an email address";
  if (PHONE.test(v)) {
    const digits = v.replace(/\D/g, "").length;
    if (digits >= 7 && digits <= 15) return "a phone number";
  }
  return null;
}

const normalKey = (key: string) => key.toLowerCase().replace(/[\s_.-]/g, "");

function scan(value: unknown, path: PropertyKey[], out: PersonalDataIssue[], depth: number): void {
  if (typeof value === "string") {
    const kind = valueKind(value);
    if (kind) out.push({ path, reason: `looks like ${kind}: events must not carry personal data (put it in the user's profile)` });
    return;
  }
  if (value === null || typeof value !== "object" || depth >= MAX_DEPTH) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => scan(v, [...path, i], out, depth + 1));
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (CONTACT_KEYS.has(normalKey(key)) && v !== null && v !== undefined && v !== "") {
      out.push({
        path: [...path, key],
        reason: "names a contact point: events must not carry personal data (put it in the user's profile)",
      });
      continue;
    }
    scan(v, [...path, key], out, depth + 1);
  }
}

/** What in an event looks like personal data (empty when nothing does). */
export function personalDataIssues(event: {
  userId: string;
  attributes: Record<string, unknown>;
  sessionId?: string;
  deviceId?: string;
}): PersonalDataIssue[] {
  const out: PersonalDataIssue[] = [];
  for (const field of ["userId", "sessionId", "deviceId"] as const) {
    const v = event[field];
    if (typeof v !== "string") continue;
    const kind = valueKind(v);
    if (kind) out.push({ path: [field], reason: `looks like ${kind}: use an opaque id (personal data must not travel in events)` });
  }
  scan(event.attributes, ["attributes"], out, 0);
  return out;
}
