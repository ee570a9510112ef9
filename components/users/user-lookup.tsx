"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Button, Card, CardBody, CardHeader, ErrorState, Field, Input, LoadingRows, Table, Td, Th } from "@/components/ui";
import { formatDateTime, formatNumber, relativeTime } from "@/components/segments/format";
import { apiFetch, errorMessage } from "@/lib/ui/api";

interface ActiveUsers {
  since: string;
  data: { userId: string; events: number; lastEventAt: string }[];
}

/** Who sent events lately, from the event archive: a starting point when you have no id at hand. */
export function ActiveUsers() {
  const q = useQuery({ queryKey: ["users", "active"], queryFn: () => apiFetch<ActiveUsers>("/api/v1/users?minutes=60&limit=20"), refetchInterval: 10_000 });
  return (
    <Card>
      <CardHeader title="Recently active" description="Users with events in the last hour, the most recent first" />
      <CardBody>
        {q.isPending ? (
          <LoadingRows rows={5} label="Loading recently active users" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : q.data.data.length === 0 ? (
          <p className="text-sm text-slate-600">No events in the last hour. Send events with POST /api/v1/events and the users show up here.</p>
        ) : (
          <Table aria-label="Recently active users">
            <thead>
              <tr>
                <Th>User</Th>
                <Th className="text-right">Events (1 h)</Th>
                <Th>Last event</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {q.data.data.map((u) => (
                <tr key={u.userId}>
                  <Td className="max-w-64 truncate">
                    <Link href={`/users/${encodeURIComponent(u.userId)}`} className="font-mono text-xs font-medium text-indigo-700 hover:underline">
                      {u.userId}
                    </Link>
                  </Td>
                  <Td className="text-right tabular-nums">{formatNumber(u.events)}</Td>
                  <Td className="whitespace-nowrap text-slate-600">
                    <time dateTime={u.lastEventAt} title={formatDateTime(u.lastEventAt)}>
                      {relativeTime(u.lastEventAt)}
                    </time>
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </CardBody>
    </Card>
  );
}

/** Look a user up by id: the id is any string an app sends as `userId` (1 to 256 characters). */
export function UserLookup() {
  const router = useRouter();
  const [id, setId] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [going, setGoing] = useState(false);
  return (
    <Card>
      <CardBody>
        <form
          role="search"
          aria-label="Look up a user"
          className="flex flex-col gap-3 sm:flex-row sm:items-start"
          onSubmit={(e) => {
            e.preventDefault();
            const v = id.trim();
            if (v.length === 0) return setError("Enter a user id");
            if (v.length > 256) return setError("A user id has at most 256 characters");
            setError(null);
            setGoing(true);
            router.push(`/users/${encodeURIComponent(v)}`);
          }}
        >
          <Field label="User ID" hint="Exactly as your apps send it in events, e.g. u-42" error={error} className="flex-1">
            <Input value={id} onChange={(e) => setId(e.target.value)} autoFocus autoComplete="off" spellCheck={false} placeholder="u-42" />
          </Field>
          <Button type="submit" className="sm:mt-6" disabled={going}>
            {going ? "Opening…" : "Look up"}
          </Button>
        </form>
      </CardBody>
    </Card>
  );
}
