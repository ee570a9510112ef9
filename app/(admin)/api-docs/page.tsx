import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { ApiDocs } from "./api-docs";

export const metadata: Metadata = { title: "API reference" };

export default function ApiDocsPage() {
  return (
    <>
      <PageHeader
        title="API reference"
        description={
          <>
            Every REST operation, generated from the schemas the handlers validate with. The raw document:{" "}
            <a className="font-medium text-indigo-700 underline underline-offset-2" href="/api/v1/openapi.json">
              /api/v1/openapi.json
            </a>{" "}
            (OpenAPI 3.1).
          </>
        }
      />
      <ApiDocs />
    </>
  );
}
