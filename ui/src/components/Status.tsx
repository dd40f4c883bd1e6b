import { Link } from "react-router";
import { ApiError } from "../api";

export function Loading({ what }: { what?: string }) {
  return <p className="muted" role="status">Loading{what ? ` ${what}` : ""}…</p>;
}

/** A failed request, worded by the server; 404s say what was not found. */
export function Failure({ error }: { error: unknown }) {
  const e = error as ApiError;
  return (
    <div className="failure" role="alert">
      <strong>{e.status === 404 ? "Not found" : e.status === 401 ? "Sign-in needed" : "Something went wrong"}</strong>
      <p>{e.message ?? String(error)}</p>
    </div>
  );
}

export function NotFound() {
  return (
    <div className="failure">
      <strong>No such page</strong>
      <p>
        Try the <Link to="/">home page</Link> or search with <kbd>/</kbd>.
      </p>
    </div>
  );
}

export function KindBadge({ kind }: { kind: string }) {
  return <span className={`kind kind-${kind}`}>{kind}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}
