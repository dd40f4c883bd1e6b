import { Link } from "react-router";
import { enc } from "../api";

/** A value as attributes hold it: text as is, anything else as JSON. */
export function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Name–value pairs, e.g. an entity's attributes or a model's hyperparameters. */
export function AttrList({ rows }: { rows: [string, unknown][] }) {
  return (
    <dl className="attrs">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <code>{show(v ?? "—")}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Entities as small links, or a muted note when there are none (yet). */
export function EntityChips({ fqns, to, loading, none }: { fqns: string[]; to: (fqn: string) => string; loading?: boolean; none: string }) {
  if (loading) return <>…</>;
  if (fqns.length === 0) return <span className="muted">{none}</span>;
  return (
    <>
      {fqns.map((f) => (
        <Link key={f} to={to(f)} className="chip">
          {f}
        </Link>
      ))}
    </>
  );
}

export const entityLink = (fqn: string) => `/entities/${enc(fqn)}`;
