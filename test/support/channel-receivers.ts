/**
 * Local stand-ins for the channel providers, speaking the real protocols, for tests that follow
 * a message all the way out of the dispatcher:
 * - an SMTP server (smtp-server) that parses what it receives (mailparser);
 * - an HTTP API of the Twilio shape (form POST to /2010-04-01/Accounts/{sid}/Messages.json, Basic
 *   auth, deduplication on I-Twilio-Idempotency-Token as Twilio does);
 * - a Web Push service (https, RFC 8030) that checks the VAPID JWT (RFC 8292) and decrypts the
 *   aes128gcm payload (RFC 8291) with the subscription's private key, as a browser would.
 * Every check is written out here rather than taken from the libraries that produced the
 * message, so a test fails when the wire format is wrong.
 */
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

// ---- SMTP ------------------------------------------------------------------------------------

export interface SmtpReceiver {
  port: number;
  url: string;
  mail: (ParsedMail & { envelopeTo: string[] })[];
  /** Mail whose envelope or To: names this address. */
  to(address: string): (ParsedMail & { envelopeTo: string[] })[];
  close(): Promise<void>;
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const mail: SmtpReceiver["mail"] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
      simpleParser(stream)
        .then((m) => mail.push(Object.assign(m, { envelopeTo })))
        .then(() => callback(), callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mail,
    to: (address) => mail.filter((m) => m.envelopeTo.includes(address)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---- Twilio-shaped SMS API -------------------------------------------------------------------

export interface SmsReceived {
  sid: string;
  to: string;
  from: string;
  body: string;
  idempotencyToken: string;
}

export interface TwilioReceiver {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** Messages accepted, one per idempotency token (a repeated token gets the first answer). */
  messages: SmsReceived[];
  /** Every request, including refused ones and repeats. */
  requests: number;
  /** Why requests were refused (wrong path, auth, content type, missing fields). */
  refusals: string[];
  close(): Promise<void>;
}

export async function startTwilioReceiver(accountSid = "AC00000000000000000000000000000001", authToken = "test-auth-token"): Promise<TwilioReceiver> {
  const state = { messages: [] as SmsReceived[], requests: 0, refusals: [] as string[] };
  const byToken = new Map<string, SmsReceived>();
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      state.requests++;
      const json = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      const refuse = (status: number, code: number, message: string) => {
        state.refusals.push(message);
        json(status, { code, message, status });
      };
      if (req.method !== "POST" || req.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) return refuse(404, 20404, `no resource ${req.method} ${req.url}`);
      if (req.headers.authorization !== expectedAuth) return refuse(401, 20003, "Authenticate");
      if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) return refuse(400, 20001, "not a form body");
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const [to, from, body] = [form.get("To"), form.get("From"), form.get("Body")];
      if (!to || !/^\+[1-9]\d{6,14}$/.test(to)) return refuse(400, 21211, "Invalid 'To' Phone Number");
      if (!from) return refuse(400, 21603, "A 'From' phone number is required");
      if (!body) return refuse(400, 21602, "Message body is required");
      const token = String(req.headers["i-twilio-idempotency-token"] ?? "");
      let message = token ? byToken.get(token) : undefined;
      if (!message) {
        message = { sid: `SM${crypto.randomBytes(16).toString("hex")}`, to, from, body, idempotencyToken: token };
        state.messages.push(message);
        if (token) byToken.set(token, message);
      }
      json(201, { sid: message.sid, account_sid: accountSid, to, from, body, status: "queued" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accountSid,
    authToken,
    get messages() {
      return state.messages;
    },
    get requests() {
      return state.requests;
    },
    get refusals() {
      return state.refusals;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- Web Push --------------------------------------------------------------------------------

const fixture = (name: string) => readFileSync(new URL(`../../lib/adapters/channels/test-fixtures/${name}`, import.meta.url));
/** A self-signed certificate for 127.0.0.1 (web-push speaks https only); trust it with `agent`. */
export const pushServiceCert = fixture("localhost-cert.pem");
const pushServiceKey = fixture("localhost-key.pem");

/** The browser's side of a subscription: its ECDH key pair and auth secret. */
export function browserSubscription(endpoint: string) {
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  const subscription = { endpoint, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } };
  return { subscription, ecdh, auth };
}

/**
 * RFC 8291 + RFC 8188 decryption of a one-record aes128gcm body with the subscription's private
 * key and auth secret. Throws on anything malformed (a wrong key fails the GCM tag check).
 */
export function decryptAes128gcm(body: Buffer, ecdh: crypto.ECDH, auth: Buffer): string {
  if (body.length < 21) throw new Error("body shorter than the aes128gcm header");
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a 65-byte P-256 public key`);
  const senderPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (record.length > rs) throw new Error(`record of ${record.length} bytes exceeds rs ${rs} (more than one record)`);
  const ecdhSecret = ecdh.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), ecdh.getPublicKey(), senderPublic]);
  const ikm = Buffer.from(crypto.hkdfSync("sha256", ecdhSecret, auth, keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 0x02) throw new Error("missing the last record's 0x02 padding delimiter");
  return padded.subarray(0, end).toString("utf8");
}

export interface VapidClaims {
  aud: string;
  sub: string;
  exp: number;
}

/**
 * Verifies `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292): an ES256 JWT signed by the
 * key in `k`, which must be `expectedPublicKey`. Returns the claims; throws on any mismatch.
 */
export function verifyVapidAuthorization(authorization: string, expectedPublicKey: string): VapidClaims {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization);
  if (!m) throw new Error(`not a vapid authorization: ${authorization}`);
  const [, token, k] = m;
  if (k !== expectedPublicKey) throw new Error("k= is not the application server's public key");
  const [header, claims, signature] = token!.split(".");
  if (!header || !claims || !signature) throw new Error("not a JWT");
  const raw = Buffer.from(k, "base64url");
  if (raw.length !== 65 || raw[0] !== 0x04) throw new Error("k= is not an uncompressed P-256 point");
  const publicKey = crypto.createPublicKey({
    key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33, 65).toString("base64url") },
    format: "jwk",
  });
  const ok = crypto.verify("sha256", Buffer.from(`${header}.${claims}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"));
  if (!ok) throw new Error("the VAPID JWT signature does not verify");
  const h = JSON.parse(Buffer.from(header, "base64url").toString()) as { alg?: string; typ?: string };
  if (h.alg !== "ES256") throw new Error(`JWT alg ${h.alg}, expected ES256`);
  return JSON.parse(Buffer.from(claims, "base64url").toString()) as VapidClaims;
}

export interface PushReceived {
  path: string;
  ttl: number;
  claims: VapidClaims;
  /** The decrypted payload, parsed as JSON. */
  payload: unknown;
  location: string;
}

export interface PushService {
  origin: string;
  /** An agent that trusts the service's certificate, for createWebPushSender({ agent }). */
  agent: https.Agent;
  /** A new subscription whose endpoint is on this service; its pushes are decrypted with its key. */
  subscribe(name: string): { endpoint: string; keys: { p256dh: string; auth: string } };
  received: PushReceived[];
  /** Requests refused, with the reason (bad VAPID, undecryptable, unknown endpoint, …). */
  refusals: string[];
  close(): Promise<void>;
}

/**
 * A push service on https://127.0.0.1 that accepts a push only when everything a real one (and
 * the browser behind it) checks holds: POST to a known subscription, `Content-Encoding:
 * aes128gcm`, a TTL, a VAPID JWT signed by `vapidPublicKey` whose `aud` is this origin, whose
 * `exp` lies within the next 24 hours and whose `sub` is a mailto: or https: contact, and a body
 * that decrypts with the subscription's private key. Answers 201 with a Location, as push
 * services do; a refusal is 400/401/403/404 and is recorded.
 */
export async function startPushService(vapidPublicKey: string): Promise<PushService> {
  const subscriptions = new Map<string, ReturnType<typeof browserSubscription>>();
  const received: PushReceived[] = [];
  const refusals: string[] = [];
  let origin = "";
  const server = https.createServer({ key: pushServiceKey, cert: pushServiceCert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      const refuse = (status: number, reason: string) => {
        refusals.push(`${path}: ${reason}`);
        res.writeHead(status, { "content-type": "text/plain" }).end(reason);
      };
      const sub = subscriptions.get(path);
      if (req.method !== "POST" || !sub) return refuse(404, "no such subscription");
      let claims: VapidClaims;
      try {
        claims = verifyVapidAuthorization(String(req.headers.authorization ?? ""), vapidPublicKey);
      } catch (error) {
        return refuse(401, (error as Error).message);
      }
      const nowSeconds = Math.floor(Date.now() / 1000);
      if (claims.aud !== origin) return refuse(403, `aud ${claims.aud} is not ${origin}`);
      if (!(claims.exp > nowSeconds && claims.exp <= nowSeconds + 24 * 3600 + 60)) return refuse(403, `exp ${claims.exp} not within 24 h`);
      if (!/^(mailto:|https:)/.test(claims.sub ?? "")) return refuse(403, `sub ${claims.sub} is not a contact`);
      if (req.headers["content-encoding"] !== "aes128gcm") return refuse(400, `content-encoding ${req.headers["content-encoding"]}`);
      const ttl = Number(req.headers.ttl);
      if (!Number.isInteger(ttl) || ttl < 0) return refuse(400, "missing TTL");
      let payload: unknown;
      try {
        payload = JSON.parse(decryptAes128gcm(Buffer.concat(chunks), sub.ecdh, sub.auth));
      } catch (error) {
        return refuse(400, `cannot decrypt: ${(error as Error).message}`);
      }
      const location = `${origin}/messages/${crypto.randomUUID()}`;
      received.push({ path, ttl, claims, payload, location });
      res.writeHead(201, { location }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const agent = new https.Agent({ ca: pushServiceCert, keepAlive: true });
  return {
    origin,
    agent,
    received,
    refusals,
    subscribe(name) {
      const browser = browserSubscription(`${origin}/push/${encodeURIComponent(name)}`);
      subscriptions.set(new URL(browser.subscription.endpoint).pathname, browser);
      return browser.subscription;
    },
    close: () => {
      agent.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
