import { readFileSync } from "node:fs";
import https from "node:https";
import type net from "node:net";
import webpush from "web-push";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classifyProviderError } from "@/lib/campaigns/policy";
import { type PushMessage, ProviderError } from "@/lib/ports/messages";
import {
  MAX_PAYLOAD_BYTES,
  asWebPushSubscription,
  createWebPushSender,
  type WebPushSendResult,
} from "@/lib/adapters/channels/web-push";
import { browserSubscription, decryptAes128gcm, verifyVapidAuthorization } from "@/test/support/channel-receivers";

// web-push speaks https only, so the stand-in push service is an https server with a
// self-signed certificate for 127.0.0.1 (valid 2020–2125) that the sender's agent trusts.
const fixture = (name: string) => readFileSync(new URL(`./test-fixtures/${name}`, import.meta.url));
const cert = fixture("localhost-cert.pem");
const key = fixture("localhost-key.pem");

interface PushRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let server: https.Server;
let origin: string;
let agent: https.Agent;
const requests: PushRequest[] = [];
const sockets = new Set<net.Socket>();

/** Paths: /ok/* → 201 with a Location, /gone/* → 410, /busy/* → 503, /hang/* → no answer. */
beforeAll(async () => {
  server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      requests.push({ method: req.method ?? "", path, headers: req.headers, body: Buffer.concat(chunks) });
      if (path.startsWith("/ok/")) {
        res.writeHead(201, { Location: `${origin}/message/${path.slice(4)}-${requests.length}` }).end();
      } else if (path.startsWith("/gone/")) {
        res.writeHead(410, { "Content-Type": "text/plain" }).end("push subscription has unsubscribed or expired.");
      } else if (path.startsWith("/busy/")) {
        res.writeHead(503).end();
      } else if (!path.startsWith("/hang/")) {
        res.writeHead(404).end();
      }
    });
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  origin = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  agent = new https.Agent({ ca: cert, keepAlive: false });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests.length = 0;
});

const vapid = webpush.generateVAPIDKeys();
const SUBJECT = "mailto:ops@acme.test";
const sender = (over: { timeoutMs?: number } = {}) =>
  createWebPushSender({ publicKey: vapid.publicKey, privateKey: vapid.privateKey, subject: SUBJECT, agent, ...over });

const pushMessage = (targets: unknown[]): PushMessage => ({
  channel: "push",
  targets,
  payload: { title: "Back in stock", body: "The blue kettle — ünïcode too", data: { url: "/p/42", n: 1 } },
  idempotencyKey: "camp-7:u1:v1",
});

describe("createWebPushSender", () => {
  it("POSTs an aes128gcm-encrypted payload with VAPID auth and TTL to the subscription's endpoint", async () => {
    const browser = browserSubscription(`${origin}/ok/sub-1`);
    const message = pushMessage([browser.subscription]);
    const before = Math.floor(Date.now() / 1000);
    const result = (await sender().send(message)) as WebPushSendResult;

    expect(requests).toHaveLength(1);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/ok/sub-1");
    expect(req.headers["content-encoding"]).toBe("aes128gcm");
    expect(req.headers["content-type"]).toBe("application/octet-stream");
    expect(req.headers.ttl).toBe(String(24 * 60 * 60));
    expect(req.headers.topic).toBeUndefined();

    const claims = verifyVapidAuthorization(String(req.headers.authorization), vapid.publicKey);
    expect(claims.aud).toBe(origin);
    expect(claims.sub).toBe(SUBJECT);
    expect(claims.exp).toBeGreaterThan(before);
    expect(claims.exp).toBeLessThanOrEqual(before + 24 * 60 * 60 + 5);

    expect(req.body.includes(Buffer.from("Back in stock"))).toBe(false);
    expect(JSON.parse(decryptAes128gcm(req.body, browser.ecdh, browser.auth))).toEqual(message.payload);

    expect(result).toMatchObject({ accepted: 1, skipped: 0, goneEndpoints: [], failures: [] });
    expect(result.providerMessageId).toMatch(new RegExp(`^${origin}/message/sub-1-\\d+$`));
  });

  it("skips FCM tokens and junk, succeeds when one subscription accepts, and reports gone ones", async () => {
    const gone = browserSubscription(`${origin}/gone/sub-2`);
    const ok = browserSubscription(`${origin}/ok/sub-3`);
    const result = (await sender().send(
      pushMessage(["fcm-registration-token:APA91b…", { endpoint: "http://insecure.test/x", keys: ok.subscription.keys }, gone.subscription, ok.subscription]),
    )) as WebPushSendResult;
    expect(requests.map((r) => r.path).sort()).toEqual(["/gone/sub-2", "/ok/sub-3"]);
    expect(result.accepted).toBe(1);
    expect(result.skipped).toBe(2);
    expect(result.goneEndpoints).toEqual([gone.subscription.endpoint]);
    expect(result.failures.map((f) => f.status)).toEqual([410]);
    expect(result.providerMessageId).toContain("/message/sub-3-");
  });

  it("throws a permanent 400 when no target is a Web Push subscription, without any request", async () => {
    const error = await sender().send(pushMessage(["fcm-token-1", 42, null])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 400 });
    expect((error as Error).message).toMatch(/no web push subscription/);
    expect(classifyProviderError(error as ProviderError)).toBe("permanent");
    expect(requests).toHaveLength(0);
  });

  it("410 from the push service: ProviderError status 410, permanent", async () => {
    const error = await sender().send(pushMessage([browserSubscription(`${origin}/gone/a`).subscription])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 410 });
    expect(classifyProviderError(error as ProviderError)).toBe("permanent");
  });

  it("503 from the push service: transient; with a 410 beside it, still transient", async () => {
    const busy = await sender().send(pushMessage([browserSubscription(`${origin}/busy/a`).subscription])).catch((e: unknown) => e);
    expect(busy).toMatchObject({ name: "ProviderError", status: 503 });
    expect(classifyProviderError(busy as ProviderError)).toBe("transient");

    const mixed = await sender()
      .send(pushMessage([browserSubscription(`${origin}/gone/b`).subscription, browserSubscription(`${origin}/busy/b`).subscription]))
      .catch((e: unknown) => e);
    expect(mixed).toMatchObject({ status: 503 });
    expect(classifyProviderError(mixed as ProviderError)).toBe("transient");
  });

  it("a push service that does not answer times out, transiently", async () => {
    const started = Date.now();
    const error = await sender({ timeoutMs: 300 })
      .send(pushMessage([browserSubscription(`${origin}/hang/a`).subscription]))
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ name: "ProviderError", status: null, code: "ETIMEDOUT" });
    expect(classifyProviderError(error as ProviderError)).toBe("transient");
  });

  it("an untrusted certificate fails the send (TLS is verified)", async () => {
    const s = createWebPushSender({ publicKey: vapid.publicKey, privateKey: vapid.privateKey, subject: SUBJECT });
    const error = await s.send(pushMessage([browserSubscription(`${origin}/ok/untrusted`).subscription])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(requests).toHaveLength(0);
  });

  it("refuses a payload too large for one push record with 413, permanent", async () => {
    const message = pushMessage([browserSubscription(`${origin}/ok/big`).subscription]);
    message.payload = { title: "t", body: "x".repeat(MAX_PAYLOAD_BYTES) };
    const error = await sender().send(message).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 413 });
    expect(classifyProviderError(error as ProviderError)).toBe("permanent");
    expect(requests).toHaveLength(0);
  });

  it("MAX_PAYLOAD_BYTES is exactly what keeps the encrypted body within 4096 bytes", () => {
    const { subscription } = browserSubscription(`${origin}/ok/x`);
    const size = (n: number) => webpush.encrypt(subscription.keys.p256dh, subscription.keys.auth, "x".repeat(n), "aes128gcm").cipherText.length;
    expect(size(MAX_PAYLOAD_BYTES)).toBe(4096);
    expect(size(MAX_PAYLOAD_BYTES + 1)).toBeGreaterThan(4096);
  });

  it("checks the VAPID configuration when created, and the message's channel when sending", async () => {
    expect(() => createWebPushSender({ publicKey: "short", privateKey: vapid.privateKey, subject: SUBJECT })).toThrow();
    expect(() => createWebPushSender({ publicKey: vapid.publicKey, privateKey: vapid.privateKey, subject: "ops@acme.test" })).toThrow();
    await expect(sender().send({ channel: "sms", to: "+1555", body: "x", idempotencyKey: "k" })).rejects.toThrow(TypeError);
  });
});

describe("asWebPushSubscription", () => {
  it("accepts a browser subscription and nothing else", () => {
    const { subscription } = browserSubscription("https://push.example.test/abc");
    expect(asWebPushSubscription({ ...subscription, expirationTime: null })).toEqual(subscription);
    expect(asWebPushSubscription("token")).toBeNull();
    expect(asWebPushSubscription({ endpoint: "https://p.test/x" })).toBeNull();
    expect(asWebPushSubscription({ ...subscription, endpoint: "http://p.test/x" })).toBeNull();
    expect(asWebPushSubscription({ ...subscription, keys: { ...subscription.keys, p256dh: "AAAA" } })).toBeNull();
    expect(asWebPushSubscription({ ...subscription, keys: { ...subscription.keys, auth: "AAAA" } })).toBeNull();
  });
});
