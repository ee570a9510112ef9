"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button, Card, CardBody, Field, Input } from "@/components/ui";

/** Look a user up by id: the id is any string an app sends as `userId` (1 to 256 characters). */
export function UserLookup() {
  const router = useRouter();
  const [id, setId] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [going, setGoing] = useState(false);
  return (
    <Card className="max-w-2xl">
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
