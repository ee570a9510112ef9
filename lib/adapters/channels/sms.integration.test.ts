import http from "node:http";
import type net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classifyProviderError } from "@/lib/campaigns/policy";
import { ProviderError, type SmsMessage } from "@/lib/ports/messages";
import { createSmsSender } from "@/lib/adapters/channels/sms";

interface SmsRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const SID = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "secret-token-123";

/**
 * A Twilio-shaped API on 127.0.0.1. The recipient number picks the answer: +15005550006 → 201,
 * +15005550001 → 400 (21211), +15005550429 → 429, +15005550500 → 500 with an HTML body,
 * +15005550999 → no answer at all.
 */
let server: http.Server;
let baseUrl: string;
const requests: SmsRequest[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const to = new URLSearchParams(body).get("To");
      const json = (status: number, value: unknown) => res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
      if (req.headers.authorization !== `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString("base64")}`) {
        json(401, { code: 20003, message: "Authenticate", status: 401 });
      } else if (to === "+15005550006") {
        json(201, { sid: `SM${"f".repeat(32)}`, status: "queued", to, body: new URLSearchParams(body).get("Body") });
      } else if (to === "+15005550001") {
        json(400, { code: 21211, message: "Invalid 'To' Phone Number", status: 400 });
      } else if (to === "+15005550429") {
        json(429, { code: 20429, message: "Too Many Requests", status: 429 });
      } else if (to === "+15005550500") {
        res.writeHead(500, { "Content-Type": "text/html" }).end("<html>oops</html>");
      } else if (to !== "+15005550999") {
        json(404, { code: 20404, message: "not found", status: 404 });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests.length = 0;
});

const sender = (over: { timeoutMs?: number; authToken?: string; baseUrl?: string } = {}) =>
  createSmsSender({ baseUrl: `${baseUrl}/`, accountSid: SID, authToken: TOKEN, from: "+15005550000", ...over });

const sms = (to: string, over: Partial<SmsMessage> = {}): SmsMessage => ({
  channel: "sms",
  to,
  body: "Your code: 1234 & more — ünïcode",
  idempotencyKey: "camp-9:u3:v1",
  ...over,
});

const failure = (p: Promise<unknown>) => p.then(() => expect.fail("expected a failure"), (e: unknown) => e as ProviderError);

describe("createSmsSender", () => {
  it("POSTs the Twilio form with Basic auth and the idempotency header; 201 gives the sid", async () => {
    const result = await sender().send(sms("+15005550006"));
    expect(result).toEqual({ providerMessageId: `SM${"f".repeat(32)}` });

    expect(requests).toHaveLength(1);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString("base64")}`);
    expect(req.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(req.headers["i-twilio-idempotency-token"]).toBe("camp-9:u3:v1");
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      To: "+15005550006",
      From: "+15005550000",
      Body: "Your code: 1234 & more — ünïcode",
    });
  });

  it("400 with Twilio's error body: ProviderError status 400, code 21211, permanent", async () => {
    const error = await failure(sender().send(sms("+15005550001")));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 400, code: "21211", message: "Invalid 'To' Phone Number" });
    expect(classifyProviderError(error)).toBe("permanent");
  });

  it("bad credentials (401) are permanent; 429 and a 500 HTML page are transient", async () => {
    const unauthorized = await failure(sender({ authToken: "wrong" }).send(sms("+15005550006")));
    expect(unauthorized).toMatchObject({ status: 401, code: "20003" });
    expect(classifyProviderError(unauthorized)).toBe("permanent");

    const limited = await failure(sender().send(sms("+15005550429")));
    expect(limited).toMatchObject({ status: 429, code: "20429" });
    expect(classifyProviderError(limited)).toBe("transient");

    const broken = await failure(sender().send(sms("+15005550500")));
    expect(broken).toMatchObject({ status: 500, code: null, message: "Internal Server Error" });
    expect(classifyProviderError(broken)).toBe("transient");
  });

  it("a server that never answers hits timeoutMs: ETIMEDOUT, no status, transient", async () => {
    const started = Date.now();
    const error = await failure(sender({ timeoutMs: 200 }).send(sms("+15005550999")));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: null, code: "ETIMEDOUT" });
    expect(classifyProviderError(error)).toBe("transient");
  });

  it("a refused connection carries the network code, transient", async () => {
    const s = http.createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((resolve) => s.close(resolve));
    const error = await failure(sender({ baseUrl: `http://127.0.0.1:${port}` }).send(sms("+15005550006")));
    expect(error).toMatchObject({ name: "ProviderError", status: null, code: "ECONNREFUSED" });
    expect(classifyProviderError(error)).toBe("transient");
  });

  it("refuses a message of another channel", async () => {
    await expect(
      sender().send({ channel: "push", targets: [], payload: { title: "t", body: "b" }, idempotencyKey: "k" }),
    ).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(0);
  });
});
