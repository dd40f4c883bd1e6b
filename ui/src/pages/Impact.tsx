import { useState } from "react";
import { Link, useNavigate, useOutletContext, useParams } from "react-router";
import { api, enc, entityPath, type Incident, type ImpactReport, type ImpactedEntity, type Me } from "../api";
import { useApi } from "../hooks";
import { Failure, KindBadge, Loading } from "../components/Status";

function Hit({ e }: { e: ImpactedEntity }) {
  return (
    <li>
      <KindBadge kind={e.kind} /> <Link to={entityPath(e.kind, e.fqn)}>{e.fqn}</Link>{" "}
      <span className="muted small">
        {e.distance} hop{e.distance === 1 ? "" : "s"}
      </span>
      <div className="path small">
        {e.path.map((p, i) => (
          <span key={p}>
            {i > 0 && " → "}
            <Link to={`/entities/${enc(p)}`}>{p.split(".").slice(-1)[0]}</Link>
          </span>
        ))}
      </div>
    </li>
  );
}

/** What breaks downstream of an entity, by owning team, and opening an incident on it. */
export function ImpactPage() {
  const fqn = useParams().fqn!;
  const me = useOutletContext<Me | undefined>();
  const { data, error } = useApi<ImpactReport>(`/impact?fqn=${enc(fqn)}&kinds=ml_model,dashboard,pipeline`);
  const [opening, setOpening] = useState(false);
  if (error) return <Failure error={error} />;
  if (!data) return <Loading what="the impact" />;
  return (
    <div>
      <header className="entity-header">
        <h1>
          Impact of <Link to={entityPath(data.root.kind, data.root.fqn)}>{data.root.fqn}</Link>
        </h1>
        <p data-testid="impact-summary">
          <strong>{data.total}</strong> affected ({Object.entries(data.counts).map(([k, n]) => `${n} ${k}`).join(", ") || "none"}) across{" "}
          <strong>{data.teams.length}</strong> team{data.teams.length === 1 ? "" : "s"}
          {data.truncated && " — list truncated, nearest first"}
        </p>
        <div className="actions">
          <Link className="button" to={`/lineage/${enc(fqn)}`}>
            Lineage
          </Link>
          {me?.can_edit ? (
            <button className="primary" onClick={() => setOpening(true)}>
              Open incident
            </button>
          ) : (
            <span className="muted small">Opening an incident needs an editor token.</span>
          )}
        </div>
      </header>
      {opening && <OpenIncident fqn={fqn} onCancel={() => setOpening(false)} />}
      <div className="teams">
        {data.teams.map((t) => (
          <section key={t.team} className="card" aria-label={`Team ${t.team}`}>
            <h2>
              {t.display_name ?? t.team} <span className="muted small">({t.entities.length})</span>
            </h2>
            {t.contact && <p className="small muted">Contact: {t.contact}</p>}
            <ul className="list">
              {t.entities.map((e) => (
                <Hit key={e.fqn} e={e} />
              ))}
            </ul>
          </section>
        ))}
        {data.unowned.length > 0 && (
          <section className="card" aria-label="No owner">
            <h2>No owning team ({data.unowned.length})</h2>
            <ul className="list">
              {data.unowned.map((e) => (
                <Hit key={e.fqn} e={e} />
              ))}
            </ul>
          </section>
        )}
        {data.total === 0 && <p className="muted">Nothing downstream is affected.</p>}
      </div>
    </div>
  );
}

function OpenIncident({ fqn, onCancel }: { fqn: string; onCancel: () => void }) {
  const [title, setTitle] = useState(`${fqn.split(".").slice(-1)[0]} is broken`);
  const [severity, setSeverity] = useState("high");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>();
  const navigate = useNavigate();
  return (
    <form
      className="card form"
      aria-label="Open incident"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const body = { fqn, title, severity, description: description || null };
          const r = await api<{ incident: Incident }>("/incidents", { method: "POST", body: JSON.stringify(body) });
          navigate(`/incidents/${r.incident.id}`);
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2>Open an incident on {fqn}</h2>
      <label>
        Title <input value={title} onChange={(e) => setTitle(e.target.value)} required aria-label="Title" />
      </label>
      <label>
        Severity{" "}
        <select value={severity} onChange={(e) => setSeverity(e.target.value)} aria-label="Severity">
          {["critical", "high", "medium", "low"].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Description <textarea value={description} onChange={(e) => setDescription(e.target.value)} aria-label="Description" />
      </label>
      <p className="small muted">Every affected team with a webhook is notified.</p>
      {error !== undefined && <Failure error={error} />}
      <div className="row">
        <button type="submit" className="primary">
          Open incident
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
