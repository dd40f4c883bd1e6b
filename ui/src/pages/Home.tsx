import { Link } from "react-router";
import { enc, when, type Kind, type Overview } from "../api";
import { useApi } from "../hooks";
import { Failure, Loading, StatusBadge } from "../components/Status";

const SHOWN_KINDS: [Kind, string][] = [
  ["table", "Tables"],
  ["column", "Columns"],
  ["ml_model", "Models"],
  ["feature", "Features"],
  ["dashboard", "Dashboards"],
  ["service", "Services"],
];

export function Home() {
  const { data, error } = useApi<Overview>("/overview");
  if (error) return <Failure error={error} />;
  if (!data) return <Loading what="the catalog" />;
  return (
    <div className="home">
      <section className="counts" aria-label="Catalog counts">
        {SHOWN_KINDS.map(([kind, label]) => (
          <Link key={kind} to={`/search?kind=${kind}`} className="count">
            <span className="number">{(data.counts[kind] ?? 0).toLocaleString()}</span>
            <span>{label}</span>
          </Link>
        ))}
        <div className="count">
          <span className="number">{data.lineage_edges.toLocaleString()}</span>
          <span>Lineage edges</span>
        </div>
      </section>

      <div className="columns">
        <section className="card" aria-label="Active incidents">
          <h2>Active incidents</h2>
          {data.active_incidents.length === 0 ? (
            <p className="muted">None open. Open one from any entity's impact page.</p>
          ) : (
            <ul className="list">
              {data.active_incidents.map((i) => (
                <li key={i.id}>
                  <StatusBadge status={i.status} /> <span className={`severity sev-${i.severity}`}>{i.severity}</span>{" "}
                  <Link to={`/incidents/${i.id}`}>{i.title}</Link>
                  <div className="muted small">
                    {i.fqn} · opened {when(i.opened_at)}
                  </div>
                </li>
              ))}
            </ul>
          )}
          <Link to="/incidents" className="small">
            All incidents →
          </Link>
        </section>

        <section className="card" aria-label="Recent ingestion runs">
          <h2>Recent ingestion runs</h2>
          {data.recent_runs.length === 0 ? (
            <p className="muted">No runs yet. Services with a connector can be run from the ingestion page.</p>
          ) : (
            <table className="grid">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Status</th>
                  <th>Started</th>
                  <th>Changes</th>
                </tr>
              </thead>
              <tbody>
                {data.recent_runs.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Link to={`/ingestion?service=${enc(r.service)}`}>{r.service}</Link>
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>{when(r.started_at)}</td>
                    <td className="small">
                      +{r.counts.entities_created} ~{r.counts.entities_updated} −{r.counts.entities_deleted} · edges +
                      {r.counts.edges_added} −{r.counts.edges_removed}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <Link to="/ingestion" className="small">
            Ingestion →
          </Link>
        </section>
      </div>
      <p className="muted small">
        Press <kbd>/</kbd> to search. Search a feature name to find the models that use it, close names included.
      </p>
    </div>
  );
}
