import Link from "next/link";

export const metadata = { title: "Not allowed" };

export default function Forbidden() {
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="max-w-md text-center">
        <h1 className="text-xl font-semibold text-slate-950">You do not have access to this page</h1>
        <p className="mt-2 text-sm text-slate-600">Your role does not allow it. Ask an admin if you need access.</p>
        <Link href="/" className="mt-4 inline-block text-sm font-medium text-indigo-700 hover:underline">
          Back to the dashboard
        </Link>
      </div>
    </main>
  );
}
