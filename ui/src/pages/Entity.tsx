import { Link, Navigate, useParams } from "react-router";
import { enc, entityPath, when, type Entity, type EntityDetail } from "../api";
import { useApi } from "../hooks";
import { AttrList } from "../components/Fields";
import { Failure, KindBadge, Loading, StatusBadge } from "../components/Status";

/** Name, breadcrumbs, owner, description and the actions every entity page offers. */
export function EntityHeader({ entity, detail }: { entity: Entity; detail?: EntityDetail }) {
  return (
    <header className="entity-header">
      <nav className="crumbs small" aria-label="Parents">
        {detail?.parents.map((p) => (
          <span key={p.fqn}>
            <Link to={entityPath(p.kind, p.fqn)}>{p.name}</Link> ›{" "}
          </span>
        ))}
      </nav>
      <h1>
        <KindBadge kind={entity.kind} /> {entity.display_name ?? entity.name}
      </h1>
      <p className="muted small">
        <code>{entity.fqn}</code> · owner {entity.owner ? <strong>{entity.owner}</strong> : <em>none</em>} · source{" "}
        {entity.source} · version {entity.version} · updated {when(entity.updated_at)}
      </p>
      {entity.description && <p>{entity.description}</p>}
      {entity.tags.length > 0 && (
        <p>
          {entity.tags.map((t) => (
            <span key={t} className="tag">
              {t}
            </span>
          ))}
        </p>
      )}
      {detail && detail.incidents.length > 0 && (
        <div className="incident-banner" role="alert">
          {detail.incidents.map((i) => (
            <div key={i.id}>
              <StatusBadge status={i.status} /> <Link to={`/incidents/${i.id}`}>{i.title}</Link>{" "}
              <span className="small">on {i.fqn}</span>
            </div>
          ))}
        </div>
      )}
      <div className="actions">
        <Link className="button" to={`/lineage/${enc(entity.fqn)}`}>
          Lineage
        </Link>
        <Link className="button" to={`/impact/${enc(entity.fqn)}`}>
          Impact
        </Link>
      </div>
    </header>
  );
}

/** What feeds the entity and what it feeds, one hop each way. */
export function EdgeSummary({ detail }: { detail: EntityDetail }) {
  const side = (title: string, edges: EntityDetail["upstream"], pick: "from" | "to") => (
    <section className="card">
      <h2>
        {title} ({edges.length})
      </h2>
      {edges.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul className="list">
          {edges.map((e) => (
            <li key={e.id}>
              <Link to={`/entities/${enc(e[pick])}`}>{e[pick]}</Link> <span className="muted small">by {e.source}</span>
              {e.columns.length > 0 && (
                <div className="small muted">{e.columns.map((c) => `${c.from} → ${c.to}`).join(", ")}</div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
  return (
    <div className="columns">
      {side("Upstream", detail.upstream, "from")}
      {side("Downstream", detail.downstream, "to")}
    </div>
  );
}

/** Any entity; tables and models have their own pages. */
export function EntityPage() {
  const fqn = useParams().fqn!;
  const { data, error } = useApi<EntityDetail>(`/entities/${enc(fqn)}`);
  if (error) return <Failure error={error} />;
  if (!data) return <Loading />;
  const e = data.entity;
  if (e.kind === "table" || e.kind === "ml_model") return <Navigate replace to={entityPath(e.kind, e.fqn)} />;
  const attrs = Object.entries(e.attrs);
  return (
    <div>
      <EntityHeader entity={e} detail={data} />
      {data.children.length > 0 && (
        <p>
          Contains:{" "}
          {data.children.map((c) => (
            <span key={c.kind} className="tag">
              {c.count} {c.kind}
              {c.count === 1 ? "" : "s"}
            </span>
          ))}{" "}
          {e.kind !== "column" && (
            <Link to={`/search?service=${enc(e.fqn.split(".")[0])}`} className="small">
              browse
            </Link>
          )}
        </p>
      )}
      {attrs.length > 0 && (
        <section className="card">
          <h2>Attributes</h2>
          <AttrList rows={attrs} />
        </section>
      )}
      <EdgeSummary detail={data} />
    </div>
  );
}
