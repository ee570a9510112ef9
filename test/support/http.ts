import { expect } from "vitest";
import type { NextRouteHandler } from "@/lib/http/route";
import { ADMIN_KEY } from "./engines";

export interface CallOptions {
  params?: Record<string, string>;
  body?: unknown;
  /** Raw body text, sent as is (for malformed JSON). */
  rawBody?: string;
  key?: string | null;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export interface CallResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Calls a Next route handler the way Next does: a Request and a params promise. */
export async function call<T = any>(handler: NextRouteHandler, method: string, options: CallOptions = {}): Promise<CallResult<T>> {
  const url = new URL("http://localhost/api/test");
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  const res = await handler(new Request(url, { method, headers, body }), {
    params: Promise.resolve(options.params ?? {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** Asserts the seed's error format: {"error":{"code","message","details","timestamp","traceId"}}. */
export function expectSeedError(body: any, code: string, field?: string) {
  expect(body).toEqual({
    error: {
      code,
      message: expect.any(String),
      details: expect.any(Object),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      traceId: expect.any(String),
    },
  });
  if (field !== undefined) expect(body.error.details.field).toBe(field);
}
