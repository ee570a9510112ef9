import { readFileSync } from "node:fs";
import net from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { classifyProviderError } from "@/lib/campaigns/policy";
import { type EmailMessage, ProviderError } from "@/lib/ports/messages";
import { createSmtpSender, listUnsubscribeHeaders } from "@/lib/adapters/channels/smtp";

interface Received {
  from: string | null;
  to: string[];
  raw: string;
}

/** A real SMTP server on 127.0.0.1 (random port) that keeps what it receives. */
async function startSmtpServer(overrides: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
    ...overrides,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as net.AddressInfo).port;
  return { received, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port nobody listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const message = (over: Partial<EmailMessage> = {}): EmailMessage => ({
  channel: "email",
  to: "ada@example.test",
  subject: "Your weekly digest — ünïcode",
  html: "<h1>Hello Ada</h1><p>Five new items.</p>",
  text: "Hello Ada\nFive new items.",
  listUnsubscribe: "https://app.example.test/u/abc?sig=1",
  idempotencyKey: "camp-1:ada:v1",
  ...over,
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function sender(port: number, over: { pool?: boolean; timeoutMs?: number } = {}) {
  const s = createSmtpSender({ url: `smtp://127.0.0.1:${port}`, from: '"Acme News" <news@acme.test>', ...over });
  cleanups.push(() => s.close());
  return s;
}

describe("createSmtpSender", () => {
  it("delivers from, to, subject, text and html parts and the list/trace headers", async () => {
    const server = await startSmtpServer();
    cleanups.push(server.close);
    const result = await sender(server.port).send(message());

    expect(server.received).toHaveLength(1);
    const got = server.received[0]!;
    expect(got.from).toBe("news@acme.test");
    expect(got.to).toEqual(["ada@example.test"]);

    const parsed = await simpleParser(got.raw);
    expect(parsed.from?.value[0]).toMatchObject({ address: "news@acme.test", name: "Acme News" });
    expect(parsed.subject).toBe("Your weekly digest — ünïcode");
    expect(parsed.text?.trim()).toBe("Hello Ada\nFive new items.");
    expect(parsed.html).toContain("<h1>Hello Ada</h1>");
    expect(got.raw).toMatch(/Content-Type: multipart\/alternative/i);

    const header = (name: string) =>
      parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line.replace(/\r?\n[ \t]+/g, " ").replace(/^[^:]+:\s*/, "");
    expect(header("List-Unsubscribe")).toBe("<https://app.example.test/u/abc?sig=1>");
    expect(header("List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    expect(header("X-Audience-Send-Id")).toBe("camp-1:ada:v1");
    expect(result.providerMessageId).toBe(parsed.messageId);
    expect(result.providerMessageId).toMatch(/^<.+@.+>$/);
  });

  it("sends a mailto List-Unsubscribe without one-click, and none when not given", async () => {
    const server = await startSmtpServer();
    cleanups.push(server.close);
    const s = sender(server.port);
    await s.send(message({ listUnsubscribe: "unsubscribe@acme.test", idempotencyKey: "k1" }));
    await s.send(message({ listUnsubscribe: undefined, idempotencyKey: "k2" }));
    expect(server.received).toHaveLength(2);
    expect(server.received[0]!.raw).toMatch(/^List-Unsubscribe: <mailto:unsubscribe@acme\.test>\r$/m);
    expect(server.received[0]!.raw).not.toMatch(/List-Unsubscribe-Post/i);
    expect(server.received[1]!.raw).not.toMatch(/List-Unsubscribe/i);
    // Header names are case-insensitive; nodemailer writes "X-Audience-Send-ID".
    expect(server.received[1]!.raw).toMatch(/^X-Audience-Send-Id: k2\r$/im);
  });

  it("reuses one pooled connection for several messages", async () => {
    let connections = 0;
    const server = await startSmtpServer({
      onConnect(_session, callback) {
        connections++;
        callback();
      },
    });
    cleanups.push(server.close);
    const s = sender(server.port);
    for (let i = 0; i < 3; i++) await s.send(message({ idempotencyKey: `k${i}` }));
    expect(server.received).toHaveLength(3);
    expect(connections).toBe(1);
  });

  it("sends message after message on one connection without waiting on delayed ACKs (TCP_NODELAY)", async () => {
    // With Nagle's algorithm on, the final "." of every message waits for the server's delayed
    // ACK (40 ms on Linux): 40 messages would take at least 1.6 s. Without it, a few ms each.
    const server = await startSmtpServer();
    cleanups.push(server.close);
    const s = createSmtpSender({ url: `smtp://127.0.0.1:${server.port}?maxConnections=1`, from: "news@acme.test" });
    cleanups.push(() => s.close());
    await s.send(message({ idempotencyKey: "warm-up" }));
    const started = performance.now();
    for (let i = 0; i < 40; i++) await s.send(message({ idempotencyKey: `k${i}` }));
    expect(performance.now() - started).toBeLessThan(1200);
    expect(server.received).toHaveLength(41);
  });

  it("speaks implicit TLS (smtps) over its own socket, verifying the certificate", async () => {
    const fixture = (name: string) => readFileSync(new URL(`./test-fixtures/${name}`, import.meta.url));
    const server = await startSmtpServer({ secure: true, key: fixture("localhost-key.pem"), cert: fixture("localhost-cert.pem") });
    cleanups.push(server.close);
    const url = `smtps://127.0.0.1:${server.port}`;
    const trusted = createSmtpSender({ url: `${url}?tls.rejectUnauthorized=true`, from: "news@acme.test" });
    cleanups.push(() => trusted.close());
    // The fixture is self-signed: refused unless trusted.
    const refused = await trusted.send(message()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    const insecure = createSmtpSender({ url: `${url}?tls.rejectUnauthorized=false`, from: "news@acme.test" });
    cleanups.push(() => insecure.close());
    await insecure.send(message({ idempotencyKey: "tls" }));
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.raw).toMatch(/^X-Audience-Send-Id: tls\r$/im);
  });

  it("maps a 550 recipient rejection to ProviderError code 550, classified permanent", async () => {
    const server = await startSmtpServer({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error("5.1.1 No such user"), { responseCode: 550 }));
      },
    });
    cleanups.push(server.close);
    const error = await sender(server.port).send(message()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: null, code: "550" });
    expect(classifyProviderError(error as ProviderError)).toBe("permanent");
    expect(server.received).toHaveLength(0);
  });

  it("maps a 450 (mailbox busy) to a transient failure", async () => {
    const server = await startSmtpServer({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error("4.2.1 Try again later"), { responseCode: 450 }));
      },
    });
    cleanups.push(server.close);
    const error = await sender(server.port).send(message()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "ProviderError", code: "450" });
    expect(classifyProviderError(error as ProviderError)).toBe("transient");
  });

  it("maps a refused connection to ECONNREFUSED, classified transient", async () => {
    const port = await closedPort();
    for (const pool of [true, false]) {
      const error = await sender(port, { pool }).send(message()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ status: null, code: "ECONNREFUSED" });
      expect(classifyProviderError(error as ProviderError)).toBe("transient");
    }
  });

  it("times out on a server that never greets, transiently", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const port = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const error = await sender(port, { timeoutMs: 300 }).send(message()).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ name: "ProviderError", code: "ETIMEDOUT" });
    expect(classifyProviderError(error as ProviderError)).toBe("transient");
  });

  it("refuses a message of another channel", async () => {
    const s = sender(await closedPort());
    await expect(s.send({ channel: "sms", to: "+15550100", body: "x", idempotencyKey: "k" })).rejects.toThrow(TypeError);
  });
});

describe("listUnsubscribeHeaders", () => {
  it("brackets mailto and https targets; one-click only for https", () => {
    expect(listUnsubscribeHeaders("mailto:u@acme.test?subject=stop")).toEqual({ "List-Unsubscribe": "<mailto:u@acme.test?subject=stop>" });
    expect(listUnsubscribeHeaders(" u@acme.test ")).toEqual({ "List-Unsubscribe": "<mailto:u@acme.test>" });
    expect(listUnsubscribeHeaders("https://acme.test/u/1")).toEqual({
      "List-Unsubscribe": "<https://acme.test/u/1>",
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
  });

  it("cannot be used to inject a header or close the bracket", () => {
    const h = listUnsubscribeHeaders("https://acme.test/u/1>\r\nBcc: x@evil.test");
    expect(h["List-Unsubscribe"]).not.toMatch(/[\r\n]/);
    expect(h["List-Unsubscribe"]!.slice(1, -1)).not.toContain(">");
  });

  it("rejects other schemes", () => {
    expect(() => listUnsubscribeHeaders("javascript:alert(1)")).toThrow(TypeError);
    expect(() => listUnsubscribeHeaders("not an address")).toThrow(TypeError);
  });
});
