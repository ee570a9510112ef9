import type { Metadata } from "next";
import { Dashboard } from "@/components/dashboard/dashboard";
import { requireRole } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Dashboard" };

export default async function DashboardPage() {
  await requireRole("viewer");
  return <Dashboard />;
}
