import { useState } from "react";
import { Link, useOutletContext, useParams, useSearchParams } from "react-router";
import { api, entityPath, when, type Delivery, type Incident, type Me } from "../api";
import { useApi } from "../hooks";
import { Failure, Loading, StatusBadge } from "../components/Status";

export function IncidentsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const { data, error } = useApi<{ items: Incident[] }>(`/incidents?limit=100${status ? `&status=${status}` : ""}`);
  return (
    <div>
      <h1>Incidents</h1>
      <div role="group" aria-label="Status" className="toggle">
        {["", "open", "acknowledged", "resolved"].map((s) => (
          <button key={s} className={status === s ? "on" : ""} onClick={() => setParams(s ? { status: s } : {})}>
            {s || "all"}
          </button>
        ))}
      </div>
      {error ? (
        <Failure error={error} />
      ) : !data ? (
        <Loading />
      ) : data.items.length === 0 ? (
        <p className="muted">No incidents.</p>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th>Status</th>
              <th>Severity</th>
              <th>Title</th>
              <th>On</th>
              <th>Affected</th>
              <th>Opened</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((i) => (
              <tr key={i.id}>
                <td>
                  <StatusBadge status={i.status} />
                </td>
                <td>
                  <span className={`severity sev-${i.severity}`}>{i.severity}</span>
                </td>
                <td>
                  <Link to={`/incidents/${i.id}`}>{i.title}</Link>
                </td>
                <td className="small">{i.fqn}</td>
                <td>{i.snapshot?.total ?? "—"}</td>
                <td className="small">
                  {when(i.opened_at)} by {i.opened_by}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function IncidentPage() {
  const id = useParams().id!;
  const me = useOutletContext<Me | undefined>();
  const { data, error, reload } = useApi<{ incident: Incident; deliveries: Delivery[] }>(`/incidents/${id}`);
  const [failure, setFailure] = useState<unknown>();
  if (error) return <Failure error={error} />;
  if (!data) return <Loading what="the incident" />;
  const { incident: i, deliveries } = data;
  const act = async (action: "acknowledge" | "resolve") => {
    setFailure(undefined);
    try {
      await api(`/incidents/${i.id}/${action}`, { method: "POST" });
      reload();
    } catch (e) {
      setFailure(e);
    }
  };
  const affected = [...(i.snapshot?.teams ?? []).flatMap((t) => t.entities.map((e) => ({ ...e, team: t.team }))), ...(i.snapshot?.unowned ?? []).map((e) => ({ ...e, team: "—" }))];
  return (
    <div>
      <header className="entity-header">
        <h1>
          <StatusBadge status={i.status} /> {i.title}
        </h1>
        <p className="small">
          <span className={`severity sev-${i.severity}`}>{i.severity}</span> · on{" "}
          <Link to={`/entities/${encodeURIComponent(i.fqn)}`}>{i.fqn}</Link> · opened {when(i.opened_at)} by {i.opened_by}
          {i.acknowledged_at && ` · acknowledged ${when(i.acknowledged_at)} by ${i.acknowledged_by}`}
          {i.resolved_at && ` · resolved ${when(i.resolved_at)} by ${i.resolved_by}`}
        </p>
        {i.description && <p>{i.description}</p>}
        <div className="actions">
          {me?.can_edit && i.status === "open" && <button onClick={() => act("acknowledge")}>Acknowledge</button>}
          {me?.can_edit && i.status !== "resolved" && (
            <button className="primary" onClick={() => act("resolve")}>
              Resolve
            </button>
          )}
          {!me?.can_edit && i.status !== "resolved" && <span className="muted small">Acknowledging and resolving need an editor token.</span>}
          <Link className="button" to={`/lineage/${encodeURIComponent(i.fqn)}`}>
            Lineage
          </Link>
        </div>
        {failure !== undefined && <Failure error={failure} />}
      </header>
      <div className="columns">
        <section className="card">
          <h2>Affected at opening ({i.snapshot?.total ?? 0})</h2>
          <table className="grid">
            <thead>
              <tr>
                <th>Team</th>
                <th>Entity</th>
                <th>Hops</th>
              </tr>
            </thead>
            <tbody>
              {affected.map((e) => (
                <tr key={e.fqn}>
                  <td>{e.team}</td>
                  <td>
                    <Link to={entityPath(e.kind, e.fqn)}>{e.fqn}</Link>
                  </td>
                  <td>{e.distance}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card">
          <h2>Notifications ({deliveries.length})</h2>
          {deliveries.length === 0 ? (
            <p className="muted">No affected team has a webhook.</p>
          ) : (
            <table className="grid" aria-label="Deliveries">
              <thead>
                <tr>
                  <th>Team</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id}>
                    <td>{d.team}</td>
                    <td>
                      <StatusBadge status={d.status} /> {d.delivered_at && <span className="small">{when(d.delivered_at)}</span>}
                    </td>
                    <td>{d.attempts}</td>
                    <td className="small">
                      {d.last_error ?? ""}
                      {d.status === "pending" && d.attempts > 0 && ` · next try ${when(d.next_attempt_at)}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}
