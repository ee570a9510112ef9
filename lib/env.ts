import { z } from "zod";
import { segmentEventMapSchema } from "@/lib/integrations/segment-spec";
import { parseKeyring } from "@/lib/privacy/crypto";

/**
 * The only module that reads process.env. Parsed once, on first use; a bad value stops the
 * boot with a message naming the variable.
 */
const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const brokerList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((s) => s.split(",").map((b) => b.trim()).filter(Boolean))
    .refine((list) => list.length > 0 && list.every((b) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b)), {
      message: "expected a comma-separated list of host:port",
    })
    .optional(),
);

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(65535).default(3000)),
  /** Interface the server binds to. */
  HOST: z.preprocess(emptyToUndefined, z.string().default("0.0.0.0")),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default("./data")),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((s) => /^postgres(ql)?:\/\//.test(s), { message: "expected a postgres:// or postgresql:// URL" })
      .optional(),
  ),
  KAFKA_BROKERS: brokerList,
  KAFKA_CLIENT_ID: z.preprocess(emptyToUndefined, z.string().default("audience-manager")),
  KAFKA_PARTITIONS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(1024).default(6)),
  /**
   * Put in front of every Kafka topic name (`${prefix}user-events`), so deployments and test runs
   * sharing one broker never read each other's messages. The local log needs none.
   */
  KAFKA_TOPIC_PREFIX: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, { message: "expected up to 100 of A-Z a-z 0-9 . _ -" })
      .default(""),
  ),
  AEROSPIKE_HOSTS: brokerList,
  AEROSPIKE_NAMESPACE: z.preprocess(emptyToUndefined, z.string().default("audience")),
  ADMIN_API_KEY: z.preprocess(
    emptyToUndefined,
    z.string().min(16, { message: "must be at least 16 characters" }).optional(),
  ),
  /** The first admin of the UI, created at start when no user with that email exists. */
  ADMIN_EMAIL: z.preprocess(emptyToUndefined, z.email({ error: "must be an email address" }).optional()),
  ADMIN_PASSWORD: z.preprocess(
    emptyToUndefined,
    z.string().min(10, { message: "must be at least 10 characters" }).optional(),
  ),
  /**
   * Signs the UI's session tokens. Unset: a random secret is created once in DATA_DIR and shared
   * by every process on this machine; set it when web processes run on several machines.
   */
  NEXTAUTH_SECRET: z.preprocess(
    emptyToUndefined,
    z.string().min(32, { message: "must be at least 32 characters" }).optional(),
  ),
  /**
   * JWT bearer tokens (RS256, lib/auth/jwt.ts): PEM public keys (one or more SPKI blocks; `\n`
   * escapes allowed on one line) and/or the path of a JWKS file. Either turns JWT auth on, and
   * then JWT_ISSUER and JWT_AUDIENCE (comma-separated: any of them) are required.
   */
  JWT_PUBLIC_KEYS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((s) => s.replace(/\\n/g, "\n"))
      .refine((s) => s.includes("-----BEGIN PUBLIC KEY-----"), { message: "expected PEM public keys (-----BEGIN PUBLIC KEY-----)" })
      .optional(),
  ),
  JWT_JWKS_FILE: z.preprocess(emptyToUndefined, z.string().optional()),
  JWT_ISSUER: z.preprocess(emptyToUndefined, z.string().optional()),
  JWT_AUDIENCE: z.preprocess(
    emptyToUndefined,
    z.string().transform((s) => s.split(",").map((a) => a.trim()).filter(Boolean)).optional(),
  ),
  /** Leeway for exp / nbf / iat against clock skew, in seconds. */
  JWT_CLOCK_TOLERANCE_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(300).default(30)),
  /**
   * Token-bucket rate limits of the REST API, per process (requests per second and burst; 0
   * turns a limit off). Per API key / JWT subject / signed-in user; ingestion (scope `ingest`)
   * has its own budget; per client IP before authentication.
   */
  RATE_LIMIT_PER_KEY: z.preprocess(emptyToUndefined, z.coerce.number().min(0).default(1000)),
  RATE_LIMIT_PER_KEY_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).optional()),
  RATE_LIMIT_INGEST_PER_KEY: z.preprocess(emptyToUndefined, z.coerce.number().min(0).default(2000)),
  RATE_LIMIT_INGEST_PER_KEY_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).optional()),
  RATE_LIMIT_PER_IP: z.preprocess(emptyToUndefined, z.coerce.number().min(0).default(2000)),
  RATE_LIMIT_PER_IP_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).optional()),
  /**
   * Proxies in front of the web app whose X-Forwarded-For is trusted: the client IP is the
   * address this many hops from the right. 0: the socket's peer address.
   */
  TRUST_PROXY_HOPS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(10).default(0)),
  /** Bearer token Prometheus presents to /api/metrics and the metrics ports (else an admin credential). */
  METRICS_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16, { message: "must be at least 16 characters" }).optional()),
  /** A port of this process serving GET /metrics (workers; optional for the web app). */
  METRICS_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(65535).optional()),
  /** Interface the metrics port binds to. */
  METRICS_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
  /**
   * Run the workers (segment processor) inside the web process. Default: yes without Kafka (the
   * embedded mode: PGlite and the local log belong to one process), no with Kafka (pm2 runs them).
   */
  IN_PROCESS_WORKERS: z.preprocess(
    emptyToUndefined,
    z.enum(["true", "false"], { error: "must be true or false" }).transform((v) => v === "true").optional(),
  ),
  /** Consumer group of the segment processors (one group per deployment). */
  SEGMENT_PROCESSOR_GROUP: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default("segment-processor")),
  /** Where a new processor group starts in user-events: everything retained, or only what comes next. */
  SEGMENT_PROCESSOR_START: z.preprocess(emptyToUndefined, z.enum(["beginning", "end"]).default("beginning")),
  /** Consumer group of the campaign dispatchers. */
  CAMPAIGN_DISPATCHER_GROUP: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default("campaign-dispatcher")),
  /** Seconds after which a batch run or a send left mid-call by a dead dispatcher is taken over. */
  DISPATCHER_TAKEOVER_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(3600).default(60)),
  /** Email channel: smtp://user:pass@host:port or smtps://… (nodemailer transport URL). */
  SMTP_URL: z.preprocess(
    emptyToUndefined,
    z.string().refine((s) => /^smtps?:\/\//.test(s), { message: "expected an smtp:// or smtps:// URL" }).optional(),
  ),
  SMTP_FROM: z.preprocess(emptyToUndefined, z.string().optional()),
  /** List-Unsubscribe URL of campaign emails; {userId} and {campaignId} are filled in. */
  UNSUBSCRIBE_URL: z.preprocess(
    emptyToUndefined,
    z.string().refine((s) => /^https:\/\//.test(s), { message: "expected an https URL" }).optional(),
  ),
  /** Push channel: VAPID keys for the Web Push protocol. */
  VAPID_PUBLIC_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
  VAPID_PRIVATE_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
  VAPID_SUBJECT: z.preprocess(emptyToUndefined, z.string().optional()),
  /** SMS channel: a Twilio-compatible REST API. */
  SMS_BASE_URL: z.preprocess(
    emptyToUndefined,
    z.string().refine((s) => /^https?:\/\//.test(s), { message: "expected an http(s) URL" }).optional(),
  ),
  SMS_ACCOUNT_SID: z.preprocess(emptyToUndefined, z.string().optional()),
  SMS_AUTH_TOKEN: z.preprocess(emptyToUndefined, z.string().optional()),
  SMS_FROM: z.preprocess(emptyToUndefined, z.string().optional()),
  /**
   * Per-channel send rate of each dispatcher process, all campaigns together:
   * `email=50,sms=10,push=200` (messages per second). Campaigns may set lower limits of their own.
   */
  CHANNEL_RATE_LIMITS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\s*(email|sms|push)\s*=\s*\d+(\.\d+)?\s*(,\s*(email|sms|push)\s*=\s*\d+(\.\d+)?\s*)*$/, {
        message: "expected channel=messagesPerSecond pairs, e.g. email=50,sms=10",
      })
      .transform((v) =>
        Object.fromEntries(
          v.split(",").map((pair) => {
            const [k, n] = pair.split("=");
            return [k!.trim(), Number(n)];
          }),
        ) as Partial<Record<"email" | "sms" | "push", number>>,
      )
      .optional(),
  ),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  /** Largest request body the REST API reads, in bytes. */
  MAX_BODY_BYTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).default(1_048_576)),
  /**
   * Segment-spec ingestion: JSON object of Segment event name → event type, e.g.
   * {"Order Completed":"orders"}. Unset: Segment's spec names. Stored mappings win over it.
   */
  SEGMENT_EVENT_MAP: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((text, ctx) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          ctx.addIssue({ code: "custom", message: "must be a JSON object" });
          return z.NEVER;
        }
        const parsed = segmentEventMapSchema.safeParse(value);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          ctx.addIssue({ code: "custom", message: `${issue.path.length ? `${JSON.stringify(issue.path[0])}: ` : ""}${issue.message}` });
          return z.NEVER;
        }
        return parsed.data;
      })
      .optional(),
  ),
  /** Encrypts webhook signing secrets at rest (any string of 32+ characters). */
  WEBHOOK_SECRET_KEY: z.preprocess(emptyToUndefined, z.string().min(32, { message: "must be at least 32 characters" }).optional()),
  /** Consumer group of the webhook dispatchers. */
  WEBHOOK_DISPATCHER_GROUP: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default("webhook-dispatcher")),
  /**
   * Keys encrypting personal data at rest (docs/privacy.md): `keyId:base64key,…`, 32-byte keys,
   * the first encrypts, the others still decrypt (rotation). Unset: a key created once in
   * DATA_DIR/pii-keys; set it when processes run on several machines.
   */
  PII_KEYS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .superRefine((spec, ctx) => {
        try {
          parseKeyring(spec);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
        }
      })
      .optional(),
  ),
  /** History, campaign sends and audit entries older than this many days are purged (NFR16). */
  RETENTION_DAYS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(36_500).default(365)),
});

export type Env = z.infer<typeof envSchema>;

/** The channels whose provider is configured: a campaign on another one cannot be activated. */
export function configuredChannels(e: Env): Set<"email" | "push" | "sms"> {
  const out = new Set<"email" | "push" | "sms">();
  if (e.SMTP_URL && e.SMTP_FROM) out.add("email");
  if (e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY && e.VAPID_SUBJECT) out.add("push");
  if (e.SMS_BASE_URL && e.SMS_ACCOUNT_SID && e.SMS_AUTH_TOKEN && e.SMS_FROM) out.add("sms");
  return out;
}

export class EnvError extends Error {
  constructor(public readonly issues: { variable: string; reason: string }[]) {
    super(
      "Invalid environment configuration:\n" +
        issues.map((i) => `  ${i.variable}: ${i.reason}`).join("\n"),
    );
    this.name = "EnvError";
  }
}

/** Parses an environment (process.env by default); throws EnvError naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((i) => ({ variable: String(i.path[0] ?? "?"), reason: i.message })),
    );
  }
  return result.data;
}

let cached: Env | undefined;

/** The process's validated environment, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv();
  return cached;
}
