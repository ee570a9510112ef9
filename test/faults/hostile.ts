/**
 * Generates malformed and hostile HTTP requests for every route file of the app (found on disk,
 * like the route walk): bad JSON, wrong types, huge and odd numbers, unicode, injection strings,
 * deep nesting, prototype keys, oversized bodies, wrong content types, wrong methods, bad paths
 * and path escapes, bad query strings and bad credentials — most of them with a valid admin key,
 * so they reach the parsers and the handlers behind authentication. Deterministic for a seed.
 */
import type { ApiRoute } from "@/lib/http/api-routes";

export interface HostileRequest {
  /** The route file it was made for (its OpenAPI-style path), or "bad path". */
  route: string;
  category: string;
  method: string;
  /** Path and query, already encoded as sent. */
  target: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

/** mulberry32: small, fast, good enough to pick among cases reproducibly. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

const deep = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

/** Values that have broken parsers, validators, databases and templates somewhere. */
const HOSTILE_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, -0.0001, 1e308, -1e308, 2 ** 53 + 2, Number.MIN_VALUE, 4294967296, -2147483649,
  "", " ", "\t\n", "a".repeat(10_000), "\u0000", "null\u0000byte", "😀".repeat(50), "Ω≈ç√∫˜µ≤≥÷", "\u202eRTL", "zero\u200bwidth",
  "ＡＢＣ", "ǅǈǋ", "\ufeffbom", "İstanbul", "e\u0301", "\ud83d\ude00\ud83d", // a high surrogate left alone
  "' OR '1'='1", "'; DROP TABLE segments; --", "\" OR 1=1 --", "1); SELECT pg_sleep(10); --", "$1", "%s%s%s%n", "\\x00",
  "<script>alert(1)</script>", "${7*7}", "{{7*7}}", "#{7*7}", "{{constructor.constructor('return process')()}}",
  "__proto__", "constructor", "prototype", "../../../../etc/passwd", "..\\..\\windows", "file:///etc/passwd", "http://169.254.169.254/",
  "NaN", "Infinity", "-Infinity", "1e309", "0x1F", "true", "null", "[]", "{}", "2026-13-45T25:61:61Z", "9999-12-31T23:59:59Z",
  [], [[]], [null], {}, { __proto__: { polluted: true } }, JSON.parse('{"__proto__":{"polluted":true}}'),
  { constructor: { prototype: { polluted: true } } }, deep(200), new Array(2_000).fill("x"), new Array(50).fill({ a: 1 }),
];

/** Raw JSON number tokens JSON.stringify cannot produce. */
const RAW_NUMBERS = ["1e999", "-1e999", "123456789012345678901234567890", "-0", "0.0000000000000000000000000001", "1E+2", "9007199254740993"];

const MALFORMED_JSON = [
  "{", "}", "[", "{\"a\":}", "{\"a\":1,}", "[1,2", "nul", "tru", "{'a':1}", "{a:1}", "{\"a\":1}garbage", "{\"a\":1}{\"b\":2}",
  "\u0000", "\"unterminated", "{\"a\":\"\\u12\"}", "{\"a\":\"\\x41\"}", "NaN", "undefined", "// comment\n{}", "\ufeff{}",
  "[".repeat(100_000), "{\"a\":".repeat(20_000), " ", "\n\n\n", "0", "\"\"", "[]", "null", "-", "1.", ".5", "01",
];

const CONTENT_TYPES = [
  "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/json; charset=latin1",
  "application/vnd.api+json", "APPLICATION/JSON", "application/jsonp", "*/*", "application/json, text/plain", "",
];

const ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

export interface Fixtures {
  adminKey: string;
  segmentId: string;
  campaignId: string;
  webhookId: string;
}

const now = () => Date.now();
/** Well-formed bodies per route (the starting point of most mutations). */
function template(route: string, f: Fixtures): unknown {
  const event = { userId: "hostile-user", eventType: "addToCart", timestamp: now(), attributes: { sku: "a" } };
  const rules = [{ eventType: "addToCart", attribute: "count", operator: "GTE", value: 3, windowMinutes: 60 }];
  if (route === "/api/v1/segments" || route === "/api/v1/segments/{segmentId}") return { name: "hostile", description: "d", rules };
  if (route === "/api/v1/segments/estimate") return { rules };
  if (route.endsWith("/status")) return route.includes("campaign") ? { status: "PAUSED" } : { active: false };
  if (route === "/api/v1/events") return { events: [event, { ...event, eventType: "orders", attributes: { value: 10 } }] };
  if (route === "/api/v1/events/single") return event;
  if (route.endsWith("/profile")) return { email: "a@example.com", phone: "+14155550100", timezone: "Europe/Paris", deviceTokens: [], attributes: { tier: "gold" } };
  if (route === "/api/v1/campaigns" || route === "/api/v1/campaigns/{campaignId}") {
    return { name: "hostile", segmentId: f.segmentId, channelType: "email", trigger: "ON_ENTER", subject: "Hi {{name}}", template: "Hello {{userId}}" };
  }
  if (route.includes("preview")) return { userId: "hostile-user", channelType: "email", subject: "s", template: "t {{userId}}" };
  if (route.startsWith("/api/v1/webhooks")) return { url: "https://example.com/hook", segmentId: f.segmentId, events: ["enter", "exit"] };
  if (route.startsWith("/api/v1/admin/users")) return { email: "someone@example.com", name: "Some One", role: "viewer" };
  if (route.startsWith("/api/v1/admin/api-keys")) return { name: "k", scopes: ["read"] };
  if (route === "/api/v1/me/password") return { currentPassword: "x".repeat(12), newPassword: "y".repeat(12) };
  if (route === "/api/v1/segment/mappings") return { mappings: { "Order Completed": "orders" } };
  if (route.endsWith("/track")) return { userId: "hostile-user", event: "Product Added", properties: { sku: "a" }, messageId: "m1" };
  if (route.endsWith("/identify")) return { userId: "hostile-user", traits: { email: "a@example.com" } };
  if (route.endsWith("/batch")) return { batch: [{ type: "track", userId: "hostile-user", event: "Order Completed", properties: { revenue: 3 } }] };
  return { a: 1 };
}

/** Replaces one random value somewhere in `v` (or adds a key) with `replacement`. */
function mutate(rng: Rng, v: unknown, replacement: unknown, depth = 0): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || rng.chance(0.2)) return [...v, replacement];
    const i = rng.int(v.length);
    const out = [...v];
    out[i] = depth < 4 && rng.chance(0.6) ? mutate(rng, v[i], replacement, depth + 1) : replacement;
    return out;
  }
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    if (keys.length === 0 || rng.chance(0.15)) {
      out[rng.pick(["extra", "__proto__", "constructor", "rules", "events", "$where", "id", "\u0000", "😀", "a".repeat(300)])] = replacement;
      return out;
    }
    if (rng.chance(0.1)) {
      delete out[rng.pick(keys)];
      return out;
    }
    const k = rng.pick(keys);
    out[k] = depth < 4 && rng.chance(0.6) ? mutate(rng, out[k], replacement, depth + 1) : replacement;
    return out;
  }
  return replacement;
}

/** Encodes a path segment or query value; lone surrogates (which encodeURIComponent refuses) as raw bytes. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "")) + "%ED%A0%80";
  }
}

const PARAM_VALUES = [
  "00000000-0000-4000-8000-000000000000", "not-a-uuid", "1", "-1", "0", "' OR 1=1 --", "%", "..", ".", "a/b", "😀", "\u0000", "ü".repeat(300),
  "x".repeat(3_000), "<script>", "${7*7}", "__proto__", " ", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-00000000000G",
];
const RAW_PARAMS = ["%E0%A4%A", "%", "%ZZ", "%00", "%2F", "%2e%2e", "%C0%AE", "%ED%A0%80", "%FF%FE"];

const QUERY_KEYS = ["page", "pageSize", "limit", "after", "before", "cursor", "search", "ids", "window", "status", "type", "active", "segmentId", "from", "to", "action", "actor", "entity", "format", "x"];
const QUERY_VALUES = ["-1", "0", "1e309", "99999999999999999999", "NaN", "1.5", "", "true", "yes", "' OR 1=1 --", "😀", "a".repeat(2_500), "2026-02-30", "24h", "7d", "1y", ",,,", "a,b,c", "%", "[]", "{}", "\u0000"];

function query(rng: Rng): string {
  if (rng.chance(0.5)) return "";
  const parts: string[] = [];
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.08)) parts.push(rng.pick(["%ZZ=1", "a=%E0%A4%A", "=", "&&&", "a[]=1&a[]=2", "x=" + "y".repeat(2_500)]));
    else parts.push(`${enc(rng.pick(QUERY_KEYS))}=${enc(rng.pick(QUERY_VALUES))}`);
  }
  if (rng.chance(0.1)) parts.push(parts[0]!); // repeated key
  return `?${parts.join("&")}`;
}

function pathFor(rng: Rng, route: ApiRoute, f: Fixtures): { path: string; category?: string } {
  let category: string | undefined;
  const parts = route.segments.map((seg) => {
    if (!seg.startsWith("{")) return seg;
    const name = seg.replace(/[{}.]/g, "");
    if (rng.chance(0.08)) {
      category = "path escape";
      return rng.pick(RAW_PARAMS);
    }
    if (rng.chance(0.4)) {
      if (name === "segmentId") return f.segmentId;
      if (name === "campaignId") return f.campaignId;
      if (name === "webhookId") return f.webhookId;
      if (name === "userId") return "hostile-user";
    }
    category = "path param";
    return enc(rng.pick(PARAM_VALUES));
  });
  return { path: `/${parts.join("/")}`, category };
}

function auth(rng: Rng, route: ApiRoute, adminKey: string): { headers: Record<string, string>; category?: string } {
  const segmentSpec = /^\/(api\/v1\/segment|v1)\/(track|identify|batch)$/.test(route.path);
  if (rng.chance(0.78)) {
    if (segmentSpec && rng.chance(0.5)) return { headers: { authorization: `Basic ${Buffer.from(`${adminKey}:`).toString("base64")}` } };
    return { headers: { authorization: `Bearer ${adminKey}` } };
  }
  const bad = rng.pick([
    {}, { authorization: "Bearer" }, { authorization: "Bearer " }, { authorization: "Bearer wrong-key-0123456789abcdef" },
    { authorization: `Bearer ${adminKey}x` }, { authorization: `bearer ${adminKey}` }, { authorization: "Basic Og==" },
    { authorization: "Basic !!!notbase64" }, { authorization: `Basic ${Buffer.from("wrong:").toString("base64")}` },
    { authorization: "Bearer a.b.c" }, { authorization: "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." },
    { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4Iiwic2NvcGUiOiJhZG1pbiJ9.c2ln" },
    { authorization: `Bearer ${"k".repeat(8_000)}` }, { authorization: "Digest username=x" }, { authorization: "Bearer \u00ff\u00fe" },
    { authorization: `Bearer ${adminKey}, Bearer ${adminKey}` }, { cookie: "next-auth.session-token=garbage; __Secure-next-auth.session-token=x.y.z" },
    { cookie: `next-auth.session-token=${"a".repeat(4_000)}` },
  ] as Record<string, string>[]);
  return { headers: bad, category: "bad auth" };
}

/** One hostile request; `i` picks the route so every route gets its share. */
export function hostileRequest(rng: Rng, i: number, routes: ApiRoute[], f: Fixtures): HostileRequest {
  // About one in twelve goes to a path no route serves.
  if (rng.chance(0.08)) {
    const base = rng.pick(routes);
    const target = rng.pick([
      `${base.path.replace(/\{[^}]+\}/g, "x")}/extra`, "/api/v1/nope", "/api/v2/segments", "/api/v1/SEGMENTS", "/api/v1/segments;jsessionid=1",
      "/api/v1/segments%2Fxyz", "/api/v1/segments/", "/api//v1/segments", "/api/v1/segments/x/y/z/w", `/api/${"a/".repeat(200)}b`,
      "/api/v1/%E0%A4%A", "/api/v1/segments/%00/versions", "/api/%2e%2e/%2e%2e/etc/passwd", "/v1/nope", "/v1/track/extra",
    ]);
    return { route: "bad path", category: "bad path", method: rng.pick(ALL_METHODS), target, headers: { authorization: `Bearer ${f.adminKey}` } };
  }
  const route = routes[i % routes.length]!;
  const declared = [...route.methods];
  const wrongMethod = rng.chance(0.1) || declared.length === 0;
  const method = wrongMethod ? rng.pick(ALL_METHODS) : rng.pick(declared);
  const { path, category: pathCategory } = pathFor(rng, route, f);
  const { headers, category: authCategory } = auth(rng, route, f.adminKey);
  const target = `${path}${query(rng)}`;
  let category = wrongMethod && !declared.includes(method) ? "wrong method" : authCategory ?? pathCategory ?? "query";
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
    if (rng.chance(0.05)) headers["content-type"] = "application/json"; // a body-less GET that claims JSON
    return { route: route.path, category, method, target, headers };
  }

  let body: string | Uint8Array<ArrayBuffer>;
  const kind = rng.next();
  const base = template(route.path, f);
  if (kind < 0.2) {
    category = category === "query" ? "bad json" : category;
    body = rng.pick(MALFORMED_JSON);
  } else if (kind < 0.45) {
    category = category === "query" ? "wrong type" : category;
    body = JSON.stringify(mutate(rng, base, rng.pick(HOSTILE_VALUES)));
  } else if (kind < 0.55) {
    category = category === "query" ? "huge number" : category;
    body = JSON.stringify(mutate(rng, base, "__RAW__")).replace('"__RAW__"', rng.pick(RAW_NUMBERS));
  } else if (kind < 0.62) {
    category = category === "query" ? "wrong shape" : category;
    body = JSON.stringify(rng.pick(HOSTILE_VALUES));
  } else if (kind < 0.66) {
    category = category === "query" ? "deep nesting" : category;
    // Written out as text: deeper than JSON.stringify (or any recursive walk) can go.
    const depth = 2_000 + rng.int(48_000);
    body = JSON.stringify(mutate(rng, base, "__DEEP__")).replace('"__DEEP__"', `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
  } else if (kind < 0.69) {
    category = category === "query" ? "oversized" : category;
    body = JSON.stringify(mutate(rng, base, "x".repeat(1_100_000 + rng.int(300_000))));
  } else if (kind < 0.72) {
    category = category === "query" ? "binary" : category;
    body = new Uint8Array(new ArrayBuffer(64 + rng.int(2_000))).map(() => rng.int(256));
  } else if (kind < 0.8) {
    category = category === "query" ? "content type" : category;
    body = JSON.stringify(base);
    headers["content-type"] = rng.pick(CONTENT_TYPES);
  } else {
    category = category === "query" ? "mutated" : category;
    let v = base;
    for (let k = 1 + rng.int(3); k > 0; k--) v = mutate(rng, v, rng.pick(HOSTILE_VALUES));
    body = JSON.stringify(v);
  }
  if (!("content-type" in headers) && !(category === "content type")) headers["content-type"] = "application/json";
  if (headers["content-type"] === "") delete headers["content-type"];
  return { route: route.path, category, method, target, headers, body };
}
