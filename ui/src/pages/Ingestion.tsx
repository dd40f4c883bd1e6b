import { useEffect, useState } from "react";
import { Link, useOutletContext, useSearchParams } from "react-router";
import { api, enc, when, type IngestionRun, type Me, type Service } from "../api";
import { useApi } from "../hooks";
import { Failure, Loading, StatusBadge } from "../components/Status";

function Runs({ service, me }: { service: Service; me?: Me }) {
  const { data, error, reload } = useApi<{ items: IngestionRun[] }>(`/services/${enc(service.name)}/runs?limit=20`);
  const [failure, setFailure] = useState<unknown>();
  const running = data?.items.some((r) => r.status === "running");
  // Follow a running run until it ends.
  useEffect(() => {
    if (!running) return;
    const t = setInterval(reload, 1000);
    return () => clearInterval(t);
  }, [running, reload]);
  const runNow = async () => {
    setFailure(undefined);
    try {
      await api(`/services/${enc(service.name)}/runs`, { method: "POST" });
      reload();
    } catch (e) {
      setFailure(e);
    }
  };
  return (
    <section className="card" aria-label={`Service ${service.name}`}>
      <h2>
        <Link to={`/entities/${enc(service.fqn)}`}>{service.name}</Link>{" "}
        <span className="tag">{service.service_type}</span>
      </h2>
      <p className="small">
        Schedule: <code>{service.ingestion?.schedule ?? "on request only"}</code>
        {service.ingestion?.timezone && ` (${service.ingestion.timezone})`}
        {service.description && <> · {service.description}</>}
      </p>
      <div className="actions">
        {me?.can_edit ? (
          <button onClick={runNow} disabled={running}>
            {running ? "Running…" : "Run now"}
          </button>
        ) : (
          <span className="muted small">Starting a run needs an editor token.</span>
        )}
      </div>
      {failure !== undefined && <Failure error={failure} />}
      {error ? (
        <Failure error={error} />
      ) : !data ? (
        <Loading />
      ) : data.items.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <table className="grid" aria-label={`Runs of ${service.name}`}>
          <thead>
            <tr>
              <th>Status</th>
              <th>Trigger</th>
              <th>Started</th>
              <th>Finished</th>
              <th>Entities +/~/−</th>
              <th>Edges +/~/−</th>
              <th>Warnings / error</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.id} data-testid="run-row">
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{r.trigger}</td>
                <td className="small">{when(r.started_at)}</td>
                <td className="small">{when(r.finished_at)}</td>
                <td>
                  {r.counts.entities_created} / {r.counts.entities_updated} / {r.counts.entities_deleted}
                </td>
                <td>
                  {r.counts.edges_added} / {r.counts.edges_updated} / {r.counts.edges_removed}
                </td>
                <td className="small">
                  {r.error && <span className="error-text">{r.error}</span>}
                  {r.warnings.length > 0 && (
                    <details>
                      <summary>{r.warnings.length} warning(s)</summary>
                      <ul>
                        {r.warnings.map((w, i) => (
                          <li key={i}>{w}</li>
                        ))}
                      </ul>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Services, their schedules and run history; "Run now" for editors. */
export function IngestionPage() {
  const me = useOutletContext<Me | undefined>();
  const [params] = useSearchParams();
  const only = params.get("service");
  const { data, error } = useApi<{ items: Service[] }>("/services");
  if (error) return <Failure error={error} />;
  if (!data) return <Loading what="services" />;
  const services = data.items.filter((s) => !only || s.name === only);
  return (
    <div>
      <h1>Ingestion</h1>
      {only && (
        <p className="small">
          Showing {only} · <Link to="/ingestion">all services</Link>
        </p>
      )}
      {services.map((s) => (
        <Runs key={s.id} service={s} me={me} />
      ))}
    </div>
  );
}
