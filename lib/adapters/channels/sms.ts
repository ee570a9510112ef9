import { type MessageSender, type OutboundMessage, ProviderError, type SendResult } from "@/lib/ports/messages";
import { errorMessage, expectChannel, networkCode } from "@/lib/adapters/channels/shared";

export interface SmsSenderOptions {
  /** Root of the Twilio-compatible API (SMS_BASE_URL), without the /2010-04-01 part. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** Sender number or alphanumeric id (SMS_FROM). */
  from: string;
  /** Whole-request deadline, answer included (default 10 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Reads a JSON body if there is one; a proxy's HTML error page gives null. */
async function jsonBody(response: Response): Promise<Record<string, unknown> | null> {
  const text = await response.text();
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A network failure or a timeout as a ProviderError without HTTP status. */
function networkProviderError(error: unknown): ProviderError {
  const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
  const code = timedOut ? "ETIMEDOUT" : networkCode(error);
  const detail = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return new ProviderError(`SMS request failed: ${errorMessage(error)}${detail}`, null, code, { cause: error });
}

/**
 * The SMS channel through a Twilio-compatible REST API: POST …/Accounts/{sid}/Messages.json
 * with Basic auth and a form body. Twilio's idempotency header makes a retried request with
 * the same key return the first message instead of sending a second one.
 *
 * An HTTP error keeps its status (400 bad number: permanent, 429/5xx: transient) and the
 * provider's numeric error code (21211, …) as `code`.
 */
export function createSmsSender(options: SmsSenderOptions): MessageSender {
  const base = new URL(options.baseUrl);
  if (base.protocol !== "https:" && base.protocol !== "http:") throw new TypeError("the SMS base URL must be http(s)");
  const endpoint = `${base.href.replace(/\/+$/, "")}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString("base64")}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    channel: "sms",

    async send(message: OutboundMessage): Promise<SendResult> {
      expectChannel(message, "sms");
      let response: Response;
      let body: Record<string, unknown> | null;
      try {
        response = await fetch(endpoint, {
          method: "POST",
          headers: {
            Authorization: authorization,
            Accept: "application/json",
            "I-Twilio-Idempotency-Token": message.idempotencyKey,
          },
          // A URLSearchParams body is sent as application/x-www-form-urlencoded;charset=UTF-8.
          body: new URLSearchParams({ To: message.to, From: options.from, Body: message.body }),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "error",
        });
        body = await jsonBody(response);
      } catch (error) {
        throw networkProviderError(error);
      }

      if (response.ok) {
        return { providerMessageId: typeof body?.sid === "string" ? body.sid : null };
      }
      const text = typeof body?.message === "string" && body.message ? body.message : response.statusText || `HTTP ${response.status}`;
      const code = typeof body?.code === "number" || typeof body?.code === "string" ? String(body.code) : null;
      throw new ProviderError(text, response.status, code);
    },
  };
}
