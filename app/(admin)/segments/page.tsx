import type { Metadata } from "next";
import { runtime } from "@/lib/runtime";
import { listSegments } from "@/lib/services/segments";
import { listSegmentsQuerySchema } from "@/lib/segments/definition";

export const metadata: Metadata = { title: "Segments" };
export const dynamic = "force-dynamic";

type Row = Awaited<ReturnType<typeof listSegments>>["data"][number];

function describeRules(s: Row, names: Map<string, string>): string {
  if (s.type === "DERIVED") {
    // Show the referenced segments by name; the ids stay in the API.
    return (s.logicalExpression ?? "").replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (id) =>
      names.has(id) ? `“${names.get(id)}”` : id,
    );
  }
  return s.rules
    .map((r) => `${r.attribute === "sum" ? `sum(${r.field})` : "count"} of ${r.eventType} ${r.operator} ${r.value} in ${r.windowMinutes} min`)
    .join(" AND ");
}

export default async function SegmentsPage({ searchParams }: { searchParams: Promise<Record<string, string>> }) {
  const parsed = listSegmentsQuerySchema.safeParse(await searchParams);
  const query = parsed.success ? parsed.data : listSegmentsQuerySchema.parse({});
  const rt = await runtime();
  const { data, pagination } = await listSegments(rt.segmentDeps, query);
  const referenced = data.flatMap((s) => s.dependencies.map((d) => d.dependsOnSegmentId));
  const [names, counts] = await Promise.all([
    rt.segments.names(referenced),
    Promise.all(data.map((s) => rt.memberships.countMembers(s.id))),
  ]);
  return (
    <section aria-labelledby="segments-title">
      <div className="mb-6 flex items-baseline justify-between">
        <h1 id="segments-title" className="text-2xl font-semibold tracking-tight">
          Segments
        </h1>
        <p className="text-sm text-slate-600">{pagination.total} in total</p>
      </div>
      {data.length === 0 ? (
        <div className="rounded-lg border border-dashed border-slate-300 bg-white p-10 text-center">
          <p className="font-medium">No segments yet</p>
          <p className="mt-1 text-sm text-slate-600">
            Create one with <code className="rounded bg-slate-100 px-1">POST /api/v1/segments</code>.
          </p>
        </div>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="w-full text-left text-sm">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600">
              <tr>
                <th scope="col" className="px-4 py-3">Name</th>
                <th scope="col" className="px-4 py-3">Type</th>
                <th scope="col" className="px-4 py-3">Status</th>
                <th scope="col" className="px-4 py-3">Definition</th>
                <th scope="col" className="px-4 py-3 text-right">Members</th>
                <th scope="col" className="px-4 py-3 text-right">Version</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {data.map((s, i) => (
                <tr key={s.id}>
                  <td className="px-4 py-3 font-medium">{s.name}</td>
                  <td className="px-4 py-3">{s.type === "DERIVED" ? "Derived" : "Independent"}</td>
                  <td className="px-4 py-3">
                    <span
                      className={
                        s.active
                          ? "rounded-full bg-emerald-50 px-2 py-0.5 text-emerald-800"
                          : "rounded-full bg-slate-100 px-2 py-0.5 text-slate-700"
                      }
                    >
                      {s.active ? "Active" : "Inactive"}
                    </span>
                  </td>
                  <td className="max-w-md truncate px-4 py-3 font-mono text-xs text-slate-700" title={describeRules(s, names)}>
                    {describeRules(s, names)}
                  </td>
                  <td className="px-4 py-3 text-right tabular-nums">{(counts[i] ?? 0).toLocaleString("en-US")}</td>
                  <td className="px-4 py-3 text-right tabular-nums">{s.version}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
