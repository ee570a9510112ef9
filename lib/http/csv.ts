import type { CsvExport } from "@/lib/services/exports";

/** A streamed CSV download. */
export function csvResponse({ filename, stream }: CsvExport): Response {
  return new Response(stream, {
    status: 200,
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename.replace(/[^\w.-]/g, "_")}"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
