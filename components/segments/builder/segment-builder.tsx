"use client";
/**
 * The segment builder (new and edit): details, the definition (rule blocks or segment groups),
 * validation as you type with the server's messages at their fields, a size estimate computed
 * by the engine before saving, and save / activate / deactivate / delete.
 */
import { useDebounced } from "@/components/ui/use-debounced";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Card, CardBody, CardHeader, ErrorState, Field, Input, LoadingRows, PageHeader, Skeleton, Textarea, buttonClass, cx } from "@/components/ui";
import { referencedSegments } from "@/lib/segments/expression";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";
import { formatDateTime, formatNumber } from "../format";
import type { ApiSegment, ApiSegmentDetail, Estimate, SegmentPage } from "../types";
import { ExpressionEditor } from "./expression-editor";
import { RuleEditor } from "./rule-editor";
import {
  bodyOf,
  checkReferences,
  emptyRoot,
  parseText,
  ruleFromApi,
  ruleFromPalette,
  treeToText,
  validate,
  type BuilderState,
  type ExprGroup,
} from "./model";

/** Loads what the builder needs, then renders the form with its initial state. */
export function SegmentBuilder({ segmentId }: { segmentId?: string }) {
  const existing = useQuery({
    queryKey: ["segments", "detail", segmentId],
    queryFn: () => apiFetch<ApiSegmentDetail>(`/api/v1/segments/${segmentId}`),
    enabled: Boolean(segmentId),
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
  const all = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });

  if (segmentId && existing.isPending) {
    return (
      <div role="status" aria-label="Loading the segment">
        <Skeleton className="mb-6 h-9 w-64" />
        <LoadingRows rows={8} label="Loading the segment" />
      </div>
    );
  }
  if (segmentId && existing.isError) {
    return <ErrorState title="Could not load this segment" message={errorMessage(existing.error)} onRetry={() => void existing.refetch()} />;
  }
  return <BuilderForm key={segmentId ?? "new"} existing={existing.data ?? null} segments={all.data?.data ?? null} segmentsError={all.isError} />;
}

/** The first render's state, with deterministic keys so the server's HTML and the client's match. */
function initialState(s: ApiSegment | null): { state: BuilderState; root: ExprGroup } {
  let n = 0;
  const key = (prefix: string) => `${prefix}-init-${n++}`;
  if (!s) {
    return {
      state: { name: "", description: "", type: "INDEPENDENT", active: true, rules: [ruleFromPalette("addToCart", "count", key("rule"))], expressionText: "" },
      root: emptyRoot(),
    };
  }
  const parsed = s.logicalExpression ? parseText(s.logicalExpression, key) : null;
  return {
    state: {
      name: s.name,
      description: s.description ?? "",
      type: s.type,
      active: s.active,
      rules: s.type === "INDEPENDENT" ? s.rules.map((r) => ruleFromApi(r, key("rule"))) : [ruleFromPalette("addToCart", "count", key("rule"))],
      expressionText: s.logicalExpression ?? "",
    },
    root: parsed?.ok ? parsed.tree : emptyRoot(),
  };
}

function BuilderForm({ existing, segments, segmentsError }: { existing: ApiSegmentDetail | null; segments: ApiSegment[] | null; segmentsError: boolean }) {
  const router = useRouter();
  const qc = useQueryClient();
  const init = useMemo(() => initialState(existing), [existing]);
  const [state, setState] = useState<BuilderState>(init.state);
  const [root, setRoot] = useState<ExprGroup>(init.root);
  const [touched, setTouched] = useState<Set<string>>(() => new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<string | null>(null);
  const selfId = existing?.id ?? null;

  const touch = (path: string) => {
    setTouched((t) => (t.has(path) ? t : new Set(t).add(path)));
    // The server's message for a field goes once the user changes that field.
    setServerErrors((e) => {
      if (!(path in e) && !(path === "rules" && Object.keys(e).some((k) => k.startsWith("rules")))) return e;
      const next = { ...e };
      for (const k of Object.keys(next)) if (k === path || (path === "rules" && k.startsWith("rules"))) delete next[k];
      return next;
    });
  };
  const patch = (p: Partial<BuilderState>, path: string) => {
    setState((s) => ({ ...s, ...p }));
    touch(path);
  };

  // ---- derived: references checked against the live graph as you type ----
  const known = useMemo(() => new Set((segments ?? []).map((s) => s.id)), [segments]);
  const graph = useMemo(
    () => new Map((segments ?? []).filter((s) => s.type === "DERIVED").map((s) => [s.id, s.dependencies.map((d) => d.dependsOnSegmentId)])),
    [segments],
  );
  const parsed = useMemo(() => (state.type === "DERIVED" && state.expressionText.trim() ? parseText(state.expressionText) : null), [state.type, state.expressionText]);
  const problem = parsed?.ok && segments ? checkReferences(parsed.node, known, selfId, graph) : null;
  const unknownIds = problem?.unknownIds ?? [];

  // ---- validation: the shared schema's messages, then reference problems, then the server's ----
  const schemaErrors = useMemo(() => validate(state), [state]);
  const clientErrors: Record<string, string> = { ...schemaErrors };
  if (state.type === "DERIVED" && parsed && !parsed.ok) clientErrors.logicalExpression = parsed.message;
  else if (problem) clientErrors.logicalExpression = problem.message;
  const shown: Record<string, string> = {};
  for (const [path, message] of Object.entries(clientErrors)) {
    const isTouched = submitted || touched.has(path) || [...touched].some((t) => path.startsWith(`${t}[`) || path.startsWith(`${t}.`));
    if (isTouched || path === "logicalExpression") shown[path] = message;
  }
  Object.assign(shown, serverErrors);
  const definitionValid = Object.keys(clientErrors).every((k) => k === "name" || k === "description");

  // ---- the size estimate, computed by the engine, debounced while typing ----
  const body = bodyOf(state);
  const estimateBody = definitionValid
    ? JSON.stringify(state.type === "INDEPENDENT" ? { type: "INDEPENDENT", rules: body.type === "INDEPENDENT" ? body.rules : [], segmentId: selfId ?? undefined } : { type: "DERIVED", logicalExpression: state.expressionText, segmentId: selfId ?? undefined })
    : null;
  const debouncedEstimate = useDebounced(estimateBody, 500);
  const estimate = useQuery({
    queryKey: ["segments", "estimate", debouncedEstimate],
    queryFn: () => apiFetch<Estimate>("/api/v1/segments/estimate", { method: "POST", body: debouncedEstimate!, headers: { "content-type": "application/json" } }),
    enabled: debouncedEstimate !== null,
    staleTime: 10_000,
    retry: false,
  });
  const estimateFieldErrors = estimate.error instanceof ApiError ? estimate.error.fieldErrors() : {};
  for (const [k, v] of Object.entries(estimateFieldErrors)) shown[k] ??= v;

  // ---- save, status, delete ----
  const save = useMutation({
    mutationFn: () =>
      existing
        ? apiFetch<ApiSegment>(`/api/v1/segments/${existing.id}`, { method: "PUT", json: body })
        : apiFetch<ApiSegment>("/api/v1/segments", { method: "POST", json: body }),
    onSuccess: async (saved) => {
      await qc.invalidateQueries({ queryKey: ["segments"] });
      router.push(`/segments/${saved.id}`);
    },
    onError: (e) => {
      if (e instanceof ApiError) {
        setServerErrors(e.fieldErrors());
        setBanner(Object.keys(e.fieldErrors()).length > 0 ? "The segment was not saved: see the highlighted fields." : e.message);
      } else setBanner(errorMessage(e));
    },
  });
  const onSave = () => {
    setSubmitted(true);
    setBanner(null);
    if (Object.keys(clientErrors).length > 0) {
      setBanner("Fix the highlighted fields to save.");
      return;
    }
    save.mutate();
  };

  const onTypeChange = (type: BuilderState["type"]) => patch({ type }, "type");
  const onTreeChange = (next: ExprGroup) => {
    setRoot(next);
    patch({ expressionText: treeToText(next) }, "logicalExpression");
  };
  const onTextChange = (text: string) => {
    const p = parseText(text);
    if (p.ok) setRoot(p.tree);
    patch({ expressionText: text }, "logicalExpression");
  };

  const references = parsed?.ok ? referencedSegments(parsed.node) : [];
  const busy = save.isPending;

  return (
    <div>
      <PageHeader
        title={existing ? `Edit “${existing.name}”` : "New segment"}
        description={existing ? `Version ${existing.version} · saving creates version ${existing.version + 1}` : "Build an audience from behaviour, or combine segments."}
        actions={
          <>
            <Link href={existing ? `/segments/${existing.id}` : "/segments"} className={buttonClass("secondary")}>
              Cancel
            </Link>
            <Button onClick={onSave} disabled={busy}>
              {busy ? "Saving…" : existing ? "Save changes" : "Save segment"}
            </Button>
          </>
        }
      />
      {banner ? (
        <p role="alert" className="mb-4 rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm font-medium text-red-900">
          {banner}
        </p>
      ) : null}

      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_20rem]">
        <Card>
          <CardHeader title="Details" />
          <CardBody className="grid gap-4 sm:grid-cols-2">
            <Field label="Name" error={shown.name}>
              <Input value={state.name} maxLength={200} placeholder="e.g. Cart abandoners" onChange={(e) => patch({ name: e.target.value }, "name")} />
            </Field>
            <fieldset>
              <legend className="mb-1 block text-sm font-medium text-slate-800">Type</legend>
              <div className="grid grid-cols-2 gap-1 rounded-md bg-slate-100 p-1" role="radiogroup" aria-label="Segment type">
                {(["INDEPENDENT", "DERIVED"] as const).map((t) => (
                  <label
                    key={t}
                    className={cx(
                      "cursor-pointer rounded px-3 py-1.5 text-center text-sm font-medium focus-within:outline-2 focus-within:outline-indigo-600",
                      state.type === t ? "bg-white text-indigo-800 shadow-sm" : "text-slate-700 hover:text-slate-950",
                    )}
                  >
                    <input type="radio" name="segment-type" value={t} checked={state.type === t} onChange={() => onTypeChange(t)} className="sr-only" />
                    {t === "INDEPENDENT" ? "Rules" : "Combine segments"}
                  </label>
                ))}
              </div>
            </fieldset>
            <Field label="Description" error={shown.description} className="sm:col-span-2">
              <Textarea rows={2} className="font-sans" value={state.description} maxLength={2000} placeholder="What this audience is for (optional)" onChange={(e) => patch({ description: e.target.value }, "description")} />
            </Field>
            {!existing ? (
              <label className="inline-flex items-center gap-2 text-sm text-slate-800 sm:col-span-2">
                <input type="checkbox" className="h-4 w-4 accent-indigo-600" checked={state.active} onChange={(e) => patch({ active: e.target.checked }, "active")} />
                Active as soon as it is saved (members start entering at once)
              </label>
            ) : null}
          </CardBody>
        </Card>

        <EstimateCard
          valid={definitionValid}
          pending={estimateBody !== debouncedEstimate || estimate.isFetching}
          data={estimate.data}
          error={estimate.error}
          onRetry={() => void estimate.refetch()}
        />
      </div>

      <Card className="mt-4">
        <CardHeader
          title={state.type === "INDEPENDENT" ? "Rules" : "Segment expression"}
          description={
            state.type === "INDEPENDENT"
              ? "Aggregates of each user's events over a sliding window; windows up to 24 hours."
              : "Members of other segments, combined with AND, OR and NOT."
          }
        />
        <CardBody>
          {state.type === "INDEPENDENT" ? (
            <RuleEditor rules={state.rules} onChange={(rules) => setState((s) => ({ ...s, rules }))} errors={shown} onEdit={touch} disabled={busy} />
          ) : segmentsError ? (
            <ErrorState title="Could not load the segments to combine" />
          ) : !segments ? (
            <LoadingRows rows={4} label="Loading segments" />
          ) : (
            <ExpressionEditor
              root={root}
              text={state.expressionText}
              segments={segments.map((s) => ({ id: s.id, name: s.name, type: s.type, active: s.active }))}
              selfId={selfId}
              onTreeChange={onTreeChange}
              onTextChange={onTextChange}
              syntaxError={parsed && !parsed.ok ? { message: parsed.message, position: parsed.position } : null}
              error={shown.logicalExpression}
              unknownIds={unknownIds}
              disabled={busy}
            />
          )}
          {state.type === "DERIVED" && references.length > 0 && !problem ? (
            <p className="mt-3 text-xs text-slate-600">
              Uses {references.length} segment{references.length === 1 ? "" : "s"}; they cannot be deleted while this segment references them.
            </p>
          ) : null}
        </CardBody>
      </Card>

      {existing ? <DangerZone segment={existing} /> : null}
    </div>
  );
}

function EstimateCard({ valid, pending, data, error, onRetry }: { valid: boolean; pending: boolean; data?: Estimate; error: unknown; onRetry(): void }) {
  return (
    <Card aria-live="polite">
      <CardHeader title="Size estimate" description="Computed by the engine against the events it retains now." />
      <CardBody className="min-h-32">
        {!valid ? (
          <p className="text-sm text-slate-600">Complete the definition to see how many users would match.</p>
        ) : error && !pending ? (
          <div>
            <p className="text-sm font-medium text-red-800">{error instanceof ApiError && error.code === "VALIDATION_ERROR" ? "The server found a problem in the definition." : errorMessage(error)}</p>
            <Button variant="ghost" size="sm" className="mt-2" onClick={onRetry}>
              Try again
            </Button>
          </div>
        ) : data ? (
          <div className={cx("transition-opacity", pending && "opacity-50")}>
            <p className="text-3xl font-semibold tabular-nums text-slate-950" data-testid="estimate">
              ≈ {formatNumber(data.matching)}
            </p>
            <p className="text-sm text-slate-700">users would match now</p>
            <p className="mt-2 text-xs text-slate-600">
              of {formatNumber(data.population)} known users · {formatDateTime(data.computedAt)}
              {data.sampled ? ` · estimated from a sample of ${formatNumber(data.evaluatedUsers)} users` : ""}
            </p>
          </div>
        ) : (
          <div role="status" aria-label="Estimating">
            <Skeleton className="h-9 w-32" />
            <Skeleton className="mt-2 h-4 w-40" />
            <Skeleton className="mt-3 h-3 w-48" />
          </div>
        )}
      </CardBody>
    </Card>
  );
}

function DangerZone({ segment }: { segment: ApiSegmentDetail }) {
  const router = useRouter();
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [blockedBy, setBlockedBy] = useState<{ id: string; name: string }[] | null>(null);
  const [active, setActive] = useState(segment.active);
  const status = useMutation({
    mutationFn: (next: boolean) => apiFetch<ApiSegment>(`/api/v1/segments/${segment.id}/status`, { method: "PATCH", json: { active: next } }),
    onSuccess: async (s) => {
      setActive(s.active);
      await qc.invalidateQueries({ queryKey: ["segments"] });
    },
  });
  const remove = useMutation({
    mutationFn: () => apiFetch<void>(`/api/v1/segments/${segment.id}`, { method: "DELETE" }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ["segments"] });
      router.push("/segments");
    },
    onError: (e) => {
      if (e instanceof ApiError && e.code === "DEPENDENCY_CONFLICT") {
        setBlockedBy((e.details?.dependents as { id: string; name: string }[] | undefined) ?? []);
        setConfirming(false);
      }
    },
  });
  return (
    <Card className="mt-4">
      <CardHeader title="Status and deletion" />
      <CardBody className="space-y-4">
        <div className="flex flex-wrap items-center justify-between gap-3">
          <div>
            <p className="text-sm font-medium text-slate-900">
              Status: <Badge tone={active ? "green" : "gray"}>{active ? "Active" : "Inactive"}</Badge>
            </p>
            <p className="mt-1 text-xs text-slate-600">{active ? "Deactivating makes every member exit (cause: deactivated)." : "Activating evaluates every known user against the definition."}</p>
          </div>
          <Button variant="secondary" disabled={status.isPending} onClick={() => status.mutate(!active)}>
            {status.isPending ? "Saving…" : active ? "Deactivate" : "Activate"}
          </Button>
        </div>
        {status.isError ? (
          <p role="alert" className="text-sm text-red-800">
            {errorMessage(status.error)}
          </p>
        ) : null}
        <div className="border-t border-slate-100 pt-4">
          {blockedBy ? (
            <div role="alert" className="mb-3 rounded-md border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-950">
              <p className="font-medium">This segment cannot be deleted: other segments use it.</p>
              <p className="mt-1">Change or delete these first:</p>
              <ul className="mt-1 list-disc pl-5">
                {blockedBy.map((d) => (
                  <li key={d.id}>
                    <Link href={`/segments/${d.id}/edit`} className="font-medium underline underline-offset-2">
                      {d.name}
                    </Link>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {confirming ? (
            <div className="flex flex-wrap items-center gap-3" role="group" aria-label="Confirm deletion">
              <p className="text-sm text-slate-900">Delete “{segment.name}”? Its members exit; history is kept.</p>
              <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
                {remove.isPending ? "Deleting…" : "Yes, delete"}
              </Button>
              <Button variant="ghost" onClick={() => setConfirming(false)}>
                Keep it
              </Button>
            </div>
          ) : (
            <Button variant="danger" onClick={() => setConfirming(true)}>
              Delete segment
            </Button>
          )}
          {remove.isError && !blockedBy ? (
            <p role="alert" className="mt-2 text-sm text-red-800">
              {errorMessage(remove.error)}
            </p>
          ) : null}
        </div>
      </CardBody>
    </Card>
  );
}
