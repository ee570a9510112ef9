import net from "node:net";
import { getSystemErrorName } from "node:util";
import nodemailer from "nodemailer";
import { type MessageSender, type OutboundMessage, ProviderError, type SendResult } from "@/lib/ports/messages";
import { errorMessage, expectChannel, networkCode } from "@/lib/adapters/channels/shared";

export interface SmtpSenderOptions {
  /** smtp://user:pass@host:port or smtps://… (SMTP_URL); query parameters are nodemailer options. */
  url: string;
  /** The From address (SMTP_FROM), e.g. `"Acme" <news@acme.example>`. */
  from: string;
  /** Keep connections open and reuse them (default true). */
  pool?: boolean;
  /** Connection, greeting and socket inactivity timeouts (default 10 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The transport URL with our defaults added as query parameters, which nodemailer reads as
 * transport options. A parameter already in SMTP_URL wins; `pool`, when given, wins over it.
 */
function transportUrl(options: SmtpSenderOptions): string {
  const url = new URL(options.url);
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") throw new TypeError("the SMTP URL must start with smtp:// or smtps://");
  const timeout = String(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  // Each SMTP message costs several round trips on its connection, so throughput comes from
  // connections in parallel (measured: 86 msg/s with nodemailer's default 5, 470 with 32).
  const defaults: Record<string, string> = {
    pool: "true",
    maxConnections: "16",
    maxMessages: "1000",
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  };
  for (const [key, value] of Object.entries(defaults)) if (!url.searchParams.has(key)) url.searchParams.set(key, value);
  if (options.pool !== undefined) url.searchParams.set("pool", String(options.pool));
  return url.href;
}

/**
 * `<mailto:…>` or `<https://…>` for List-Unsubscribe (RFC 2369); a bare address becomes a
 * mailto. One-click unsubscribe (RFC 8058, List-Unsubscribe-Post) only for an https URL.
 * Parsing with URL also drops CR/LF and percent-encodes `>`, so the value cannot break out of
 * its header.
 */
export function listUnsubscribeHeaders(value: string): Record<string, string> {
  const raw = value.trim();
  const url = new URL(/^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : `mailto:${raw}`);
  if (url.protocol === "https:") return { "List-Unsubscribe": `<${url.href}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
  if (url.protocol === "http:" || (url.protocol === "mailto:" && url.pathname.includes("@"))) return { "List-Unsubscribe": `<${url.href}>` };
  throw new TypeError(`listUnsubscribe must be a mailto: or https: URL or an email address, got ${JSON.stringify(value)}`);
}

function systemCode(errno: unknown): string | null {
  if (typeof errno !== "number" || !Number.isInteger(errno) || errno >= 0) return null;
  try {
    return getSystemErrorName(errno);
  } catch {
    return null;
  }
}

const codeInMessage = (message: unknown) => (typeof message === "string" ? (/\b(E[A-Z]{3,}[A-Z_]*)\b/.exec(message)?.[1] ?? null) : null);

/**
 * A ProviderError for a nodemailer failure. `code` is the SMTP reply code when the server
 * answered (550: permanent, 421/450: transient), else the socket's code (ECONNREFUSED, …),
 * else nodemailer's own (ETIMEDOUT, ECONNECTION, ESOCKET, EAUTH, …). HTTP status: none.
 */
export function smtpProviderError(error: unknown): ProviderError {
  const e = (error ?? {}) as { responseCode?: unknown; code?: unknown; errno?: unknown; message?: unknown };
  let code: string | null = null;
  if (typeof e.responseCode === "number" && e.responseCode >= 200 && e.responseCode <= 599) {
    code = String(e.responseCode);
  } else {
    // nodemailer replaces a socket error's code with its own ESOCKET; the system error number
    // (and the message, "connect ECONNREFUSED 127.0.0.1:25") still tell the original.
    const outer = typeof e.code === "string" ? e.code : null;
    code = outer && outer !== "ESOCKET" ? outer : (systemCode(e.errno) ?? codeInMessage(e.message) ?? outer ?? networkCode(error));
  }
  return new ProviderError(`SMTP send failed: ${errorMessage(error)}`, null, code, { cause: error });
}

type SocketCallback = (error: Error | null, socket?: { connection: net.Socket } | false) => void;

/**
 * Opens the TCP connection for nodemailer with Nagle's algorithm off (TCP_NODELAY), which
 * nodemailer leaves on. A message ends with small writes (the last part, then the lone
 * "\r\n.\r\n"); with Nagle on, the last one waits for the ACK of the previous segment, which the
 * server delays (40 ms on Linux) because it has nothing to say until it sees that dot: every
 * message on a connection took at least ~45 ms, 21 messages/s per connection against a local
 * server, 570 with this (bench/dispatch.ts, BENCHMARKS.md). TLS (smtps, STARTTLS) is layered on
 * this socket by nodemailer as before.
 */
function connectWithoutDelay(connectTimeoutMs: number) {
  return (opts: { host?: string; port?: number | string; secure?: boolean; localAddress?: string }, callback: SocketCallback): void => {
    // nodemailer's defaults (SMTPConnection): localhost, 465 for implicit TLS, else 587.
    const port = Number(opts.port) || (opts.secure ? 465 : 587);
    const socket = net.connect({ host: opts.host || "localhost", port, localAddress: opts.localAddress, noDelay: true });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error("Connection timeout"), { code: "ETIMEDOUT" })), connectTimeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      callback(error);
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", fail);
      socket.setKeepAlive(true);
      callback(null, { connection: socket });
    });
  };
}

/** The email channel over SMTP (nodemailer), with pooled connections. */
export function createSmtpSender(options: SmtpSenderOptions): MessageSender & { close(): Promise<void> } {
  if (!options.from.trim()) throw new TypeError("the SMTP sender needs a From address");
  const transport = nodemailer.createTransport(transportUrl(options));
  // nodemailer's documented hook for supplying the socket; a `proxy` in SMTP_URL sets its own.
  const mailer = transport as unknown as { getSocket?: unknown };
  if (typeof mailer.getSocket !== "function") mailer.getSocket = connectWithoutDelay(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let closed = false;

  return {
    channel: "email",

    async send(message: OutboundMessage): Promise<SendResult> {
      expectChannel(message, "email");
      if (closed) throw new Error("the SMTP sender is closed");
      if (!message.to.trim()) throw new ProviderError("email message without a recipient", null, "5.1.3");
      const headers: Record<string, string> = {
        ...(message.listUnsubscribe ? listUnsubscribeHeaders(message.listUnsubscribe) : {}),
        "X-Audience-Send-Id": message.idempotencyKey,
      };
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          headers,
        });
        return { providerMessageId: typeof info.messageId === "string" ? info.messageId : null };
      } catch (error) {
        throw smtpProviderError(error);
      }
    },

    async close() {
      closed = true;
      transport.close();
    },
  };
}
