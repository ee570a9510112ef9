import type { z } from "zod";
import { operations, type ApiOperation, type OperationId, type Operations } from "@/lib/http/openapi-registry";

/**
 * A small typed client of the REST API, over fetch. Every operation of the registry
 * (lib/http/openapi-registry.ts) is a method — `client.segments.create(...)`,
 * `client.webhooks.deliveries(...)` — whose input types are the zod input types of the schemas
 * the handler parses, and whose result type is the wire schema of its answer. Errors are thrown
 * as {@link ApiError} carrying the seed's error format. CSV and text operations return the
 * streaming Response.
 *
 * ```ts
 * const api = createClient({ baseUrl: "http://localhost:3000", apiKey: process.env.KEY });
 * const seg = await api.segments.create({ body: { name: "Cart adders", rules: [...] } });
 * const members = await api.segments.members({ params: { segmentId: seg.id }, query: { limit: 50 } });
 * ```
 */

type PathParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}` ? N | PathParamNames<Rest> : never;
type InputOf<S> = S extends z.ZodType ? z.input<S> : never;

type ParamsPart<O extends ApiOperation> = [PathParamNames<O["path"]>] extends [never]
  ? { params?: undefined }
  : { params: Record<PathParamNames<O["path"]>, string> };
type BodyPart<O> = O extends { bodyDoc: infer D } ? { body: InputOf<D> } : O extends { body: infer B } ? { body: InputOf<B> } : { body?: undefined };
type QueryPart<O> = O extends { query: infer Q } ? { query?: Partial<Record<keyof InputOf<Q> & string, string | number | boolean | undefined>> } : { query?: undefined };

/** What an operation takes: path params, body and query as the handler's schemas accept them. */
export type RequestOf<K extends OperationId> = ParamsPart<Operations[K]> &
  BodyPart<Operations[K]> &
  QueryPart<Operations[K]> & { headers?: Record<string, string> };

/** What an operation answers: the wire type (dates as ISO strings), a Response for CSV, nothing for 204. */
export type ResponseOf<K extends OperationId> = Operations[K] extends { response: infer R }
  ? R extends z.ZodType
    ? z.output<R>
    : Response
  : undefined;

type Args<K extends OperationId> = object extends RequestOf<K> ? [request?: RequestOf<K>] : [request: RequestOf<K>];

type GroupOf<K> = K extends `${infer G}.${string}` ? G : never;
type NameOf<K, G extends string> = K extends `${G}.${infer N}` ? N : never;

type Method<K> = K extends OperationId ? (...args: Args<K>) => Promise<ResponseOf<K>> : never;

export type Client = {
  [G in GroupOf<OperationId>]: { [N in NameOf<OperationId, G>]: Method<`${G}.${N}`> };
} & {
  /** Calls an operation by id. */
  call<K extends OperationId>(id: K, ...args: Args<K>): Promise<ResponseOf<K>>;
};

export interface ClientOptions {
  /** Where the API is, e.g. http://localhost:3000 (no trailing path). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  /** Parse every JSON answer with its wire schema and throw on a mismatch (tests). */
  validate?: boolean;
}

/** A non-2xx answer, in the seed's error format. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details: { field?: string; reason?: string; [k: string]: unknown },
    public readonly traceId: string | null,
    public readonly body: unknown,
  ) {
    super(`${status} ${code}: ${message}${details.field ? ` (${details.field}: ${details.reason})` : ""}`);
    this.name = "ApiError";
  }
}

function buildUrl(baseUrl: string, o: ApiOperation, params: Record<string, string> | undefined, query: Record<string, unknown> | undefined): string {
  const path = o.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new TypeError(`missing path parameter '${name}' for ${o.method} ${o.path}`);
    return encodeURIComponent(value);
  });
  const url = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  return url.toString();
}

export function createClient(options: ClientOptions): Client {
  const doFetch = options.fetch ?? fetch;

  async function call(id: OperationId, request: { params?: Record<string, string>; body?: unknown; query?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    const o = operations[id] as ApiOperation;
    const raw = o.response === "csv" || o.response === "text";
    const headers: Record<string, string> = { accept: o.response === "csv" ? "text/csv" : raw ? "text/plain" : "application/json", ...options.headers, ...request.headers };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(request.body);
    }
    const res = await doFetch(buildUrl(options.baseUrl, o, request.params, request.query), { method: o.method, headers, body });
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const error = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown>; traceId?: string } }).error;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText, error?.details ?? {}, error?.traceId ?? res.headers.get("x-trace-id"), parsed);
    }
    if (o.response === "csv" || o.response === "text") return res;
    if (res.status === 204 || !o.response) {
      await res.arrayBuffer();
      return undefined;
    }
    const data: unknown = await res.json();
    return options.validate ? o.response.parse(data) : data;
  }

  const client: Record<string, unknown> = { call };
  for (const id of Object.keys(operations) as OperationId[]) {
    const [group, name] = id.split(".") as [string, string];
    const ns = (client[group] ??= {}) as Record<string, unknown>;
    ns[name] = (request?: Parameters<typeof call>[1]) => call(id, request);
  }
  return client as Client;
}
