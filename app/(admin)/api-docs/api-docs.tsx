"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Badge, Button, EmptyState, ErrorState, Field, Input, LoadingRows, Textarea, type BadgeTone } from "@/components/ui";
import { apiFetch, errorMessage } from "@/lib/ui/api";

/**
 * The API reference: renders GET /api/v1/openapi.json (no third-party viewer, nothing from a CDN)
 * and lets the signed-in user try an operation — with their session, or with an API key typed
 * here (kept in memory only).
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  description?: string;
  additionalProperties?: Schema | boolean;
};
interface Parameter { name: string; in: "path" | "query"; required: boolean; description?: string; schema: Schema }
interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  security: Record<string, string[]>[];
  "x-required-scope"?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  info: { title: string; description: string };
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const METHOD_TONE: Record<string, BadgeTone> = { get: "blue", post: "green", put: "amber", patch: "amber", delete: "red" };

function typeLabel(s: Schema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeLabel).join(" | ");
  if (s.type === "array") return `${s.items ? typeLabel(s.items) : "any"}[]`;
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  return s.format ? `${t} (${s.format})` : t;
}

function constraints(s: Schema): string {
  const out: string[] = [];
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) out.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) out.push(`${s.minLength}+ chars`);
  if (s.maxLength !== undefined) out.push(`≤ ${s.maxLength} chars`);
  if (s.minItems !== undefined) out.push(`${s.minItems}+ items`);
  if (s.maxItems !== undefined) out.push(`≤ ${s.maxItems} items`);
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out.join(", ");
}

/** A schema as a nested list of fields: name, type, required, constraints. */
function SchemaTree({ schema, depth = 0 }: { schema: Schema; depth?: number }) {
  if (depth > 6) return <span className="text-slate-500">…</span>;
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants && variants.some((v) => v.properties)) {
    return (
      <div className="space-y-2">
        {variants.map((v, i) => (
          <div key={i} className="rounded border border-slate-200 p-2">
            <p className="mb-1 text-xs font-medium text-slate-600">one of ({i + 1})</p>
            <SchemaTree schema={v} depth={depth + 1} />
          </div>
        ))}
      </div>
    );
  }
  const object = schema.properties ? schema : schema.type === "array" && schema.items?.properties ? schema.items : null;
  if (!object?.properties) {
    return <code className="text-xs text-slate-700">{typeLabel(schema)}</code>;
  }
  const required = new Set(object.required ?? []);
  return (
    <ul className="space-y-1 border-l border-slate-200 pl-3">
      {schema.type === "array" ? <li className="text-xs text-slate-500">array of:</li> : null}
      {Object.entries(object.properties).map(([name, prop]) => (
        <li key={name} className="text-xs">
          <code className="font-semibold text-slate-900">{name}</code>
          {required.has(name) ? <span className="ml-1 text-red-700">*</span> : null}{" "}
          <code className="text-indigo-800">{prop.properties || prop.items?.properties ? (prop.type === "array" ? "object[]" : "object") : typeLabel(prop)}</code>
          {constraints(prop) ? <span className="ml-2 text-slate-500">{constraints(prop)}</span> : null}
          {prop.description ? <span className="ml-2 text-slate-600">— {prop.description}</span> : null}
          {prop.properties || prop.items?.properties || (prop.oneOf ?? prop.anyOf)?.some((v) => v.properties) ? (
            <div className="mt-1">
              <SchemaTree schema={prop} depth={depth + 1} />
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** A small example value for a schema: required fields only (all fields when none is required). */
function example(s: Schema, depth = 0): unknown {
  if (depth > 6) return null;
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  if (s.enum) return s.enum[0];
  const alternatives = s.oneOf ?? s.anyOf;
  if (alternatives) return example(alternatives.find((a) => a.type !== "null") ?? alternatives[0]!, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const props = s.properties ?? {};
      const names = s.required?.length ? s.required : Object.keys(props);
      return Object.fromEntries(names.filter((n) => props[n]).map((n) => [n, example(props[n]!, depth + 1)]));
    }
    case "array":
      return s.items && (s.minItems ?? 0) > 0 ? [example(s.items, depth + 1)] : [];
    case "string":
      return s.format === "date-time" ? new Date().toISOString() : s.format === "uuid" ? "00000000-0000-4000-8000-000000000000" : "string";
    case "integer":
    case "number":
      return s.minimum ?? 1;
    case "boolean":
      return true;
    default:
      return null;
  }
}

function TryIt({ method, path, op, apiKey }: { method: string; path: string; op: Operation; apiKey: string }) {
  const params = op.parameters ?? [];
  const bodySchema = op.requestBody?.content["application/json"]?.schema;
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState(() => (bodySchema ? JSON.stringify(example(bodySchema), null, 2) : ""));
  const [result, setResult] = useState<{ status: number; traceId: string | null; text: string } | { error: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function send() {
    setBusy(true);
    setResult(null);
    try {
      const url = new URL(path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(values[n] ?? "")), window.location.origin);
      for (const p of params) if (p.in === "query" && values[p.name]) url.searchParams.set(p.name, values[p.name]!);
      const res = await fetch(url, {
        method: method.toUpperCase(),
        credentials: "same-origin",
        headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(bodySchema ? { "content-type": "application/json" } : {}) },
        body: bodySchema ? body : undefined,
      });
      const text = await res.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON (CSV, metrics): shown as is
      }
      setResult({ status: res.status, traceId: res.headers.get("x-trace-id"), text: pretty.length > 20_000 ? `${pretty.slice(0, 20_000)}\n… (truncated)` : pretty });
    } catch (e) {
      setResult({ error: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="space-y-3 rounded-md bg-slate-50 p-3">
      <p className="text-xs font-semibold uppercase tracking-wide text-slate-600">Try it</p>
      {params.length > 0 ? (
        <div className="grid gap-2 sm:grid-cols-2">
          {params.map((p) => (
            <Field key={`${p.in}:${p.name}`} label={`${p.name}${p.required ? " *" : ""} (${p.in})`}>
              <Input value={values[p.name] ?? ""} placeholder={typeLabel(p.schema)} onChange={(e) => setValues({ ...values, [p.name]: e.target.value })} />
            </Field>
          ))}
        </div>
      ) : null}
      {bodySchema ? (
        <Field label="Body (JSON)">
          <Textarea rows={Math.min(16, body.split("\n").length + 1)} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} />
        </Field>
      ) : null}
      <Button size="sm" onClick={() => void send()} disabled={busy}>
        {busy ? "Sending…" : `Send ${method.toUpperCase()}`}
      </Button>
      {result && "error" in result ? <p className="text-sm text-red-700">{result.error}</p> : null}
      {result && "status" in result ? (
        <div>
          <p className="text-xs text-slate-700">
            <Badge tone={result.status < 300 ? "green" : result.status < 500 ? "amber" : "red"}>{result.status}</Badge>
            {result.traceId ? <span className="ml-2">trace {result.traceId}</span> : null}
          </p>
          <pre className="mt-2 max-h-96 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{result.text || "(no body)"}</pre>
        </div>
      ) : null}
    </div>
  );
}

function OperationRow({ method, path, op, apiKey }: { method: string; path: string; op: Operation; apiKey: string }) {
  const body = op.requestBody?.content["application/json"]?.schema;
  return (
    <details className="group rounded-md border border-slate-200 bg-white">
      <summary className="flex cursor-pointer flex-wrap items-center gap-2 px-3 py-2 text-sm">
        <Badge tone={METHOD_TONE[method] ?? "gray"} className="w-16 justify-center font-mono">
          {method.toUpperCase()}
        </Badge>
        <code className="font-mono text-slate-900">{path}</code>
        <span className="text-slate-600">{op.summary}</span>
        <span className="ml-auto text-xs text-slate-500">{op.security.length === 0 ? "public" : `scope: ${op["x-required-scope"]}`}</span>
      </summary>
      <div className="space-y-4 border-t border-slate-100 px-4 py-3">
        {op.parameters?.length ? (
          <section>
            <h4 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Parameters</h4>
            <ul className="space-y-1 text-xs">
              {op.parameters.map((p) => (
                <li key={`${p.in}:${p.name}`}>
                  <code className="font-semibold">{p.name}</code> <span className="text-slate-500">({p.in}{p.required ? ", required" : ""})</span>{" "}
                  <code className="text-indigo-800">{typeLabel(p.schema)}</code> <span className="text-slate-500">{constraints(p.schema)}</span>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        {body ? (
          <section>
            <h4 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Request body</h4>
            <SchemaTree schema={body} />
          </section>
        ) : null}
        <section>
          <h4 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Responses</h4>
          <ul className="space-y-2 text-xs">
            {Object.entries(op.responses).map(([status, r]) => {
              const [type, content] = Object.entries(r.content ?? {})[0] ?? [];
              return (
                <li key={status}>
                  <Badge tone={status.startsWith("2") ? "green" : "gray"}>{status}</Badge> <span className="text-slate-700">{r.description}</span>
                  {status.startsWith("2") && content ? (
                    <details className="mt-1">
                      <summary className="cursor-pointer text-slate-500">{type}</summary>
                      <div className="mt-1">
                        <SchemaTree schema={content.schema} />
                      </div>
                    </details>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </section>
        <TryIt method={method} path={path} op={op} apiKey={apiKey} />
      </div>
    </details>
  );
}

export function ApiDocs() {
  const doc = useQuery({ queryKey: ["openapi"], queryFn: () => apiFetch<Document>("/api/v1/openapi.json"), staleTime: Infinity });
  const [search, setSearch] = useState("");
  const [apiKey, setApiKey] = useState("");
  const groups = useMemo(() => {
    if (!doc.data) return [];
    const needle = search.trim().toLowerCase();
    const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
    for (const [path, methods] of Object.entries(doc.data.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (needle && !`${method} ${path} ${op.summary}`.toLowerCase().includes(needle)) continue;
        const tag = op.tags[0] ?? "Other";
        byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
      }
    }
    return doc.data.tags.map((t) => ({ tag: t.name, ops: byTag.get(t.name) ?? [] })).filter((g) => g.ops.length > 0);
  }, [doc.data, search]);

  if (doc.isPending) return <LoadingRows rows={10} label="Loading the API reference" />;
  if (doc.isError) return <ErrorState message={errorMessage(doc.error)} onRetry={() => void doc.refetch()} />;
  return (
    <div className="space-y-6">
      <p className="text-sm text-slate-700">{doc.data.info.description}</p>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label="Filter operations">
          <Input type="search" value={search} placeholder="webhooks, POST, members…" onChange={(e) => setSearch(e.target.value)} />
        </Field>
        <Field label="API key for “Try it” (optional)" hint="Without one, calls use your session. The key stays in this page's memory.">
          <Input type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
        </Field>
      </div>
      {groups.length === 0 ? <EmptyState title="No operation matches" /> : null}
      {groups.map((g) => (
        <section key={g.tag} aria-labelledby={`tag-${g.tag}`}>
          <h2 id={`tag-${g.tag}`} className="mb-2 text-base font-semibold text-slate-900">
            {g.tag}
          </h2>
          <div className="space-y-2">
            {g.ops.map((o) => (
              <OperationRow key={`${o.method} ${o.path}`} {...o} apiKey={apiKey} />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}
