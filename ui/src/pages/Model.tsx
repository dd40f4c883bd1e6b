import { Link, useParams } from "react-router";
import { enc, type Entity, type EntityDetail, type LineagePage } from "../api";
import { useApi } from "../hooks";
import { EdgeSummary, EntityHeader } from "./Entity";
import { AttrList, EntityChips, entityLink, show } from "../components/Fields";
import { Failure, Loading } from "../components/Status";

/** Features with their source columns, hyperparameters, version and owner. */
export function ModelPage() {
  const fqn = useParams().fqn!;
  const model = useApi<{ model: Entity; features: Entity[] }>(`/models/${enc(fqn)}`);
  const detail = useApi<EntityDetail>(`/entities/${enc(fqn)}`);
  // Column level, two hops up: model ← feature (containment) ← source column.
  const sources = useApi<LineagePage>(`/lineage/${enc(fqn)}?level=column&upstream=2&downstream=0&limit=5000`);
  if (model.error) return <Failure error={model.error} />;
  if (!model.data) return <Loading what="the model" />;

  const byFeature = new Map<string, string[]>();
  for (const e of sources.data?.edges ?? []) {
    if (e.sources.every((s) => s === "contains")) continue;
    byFeature.set(e.to, [...(byFeature.get(e.to) ?? []), e.from]);
  }
  const { model: m, features } = model.data;
  const attrs = m.attrs as { algorithm?: string; version?: string; hyperparameters?: unknown } & Record<string, unknown>;
  const hyper = attrs.hyperparameters;
  const hyperRows: [string, unknown][] = Array.isArray(hyper)
    ? hyper.map((h: { name?: string; key?: string; value?: unknown }) => [h.name ?? h.key ?? "?", h.value])
    : hyper && typeof hyper === "object"
      ? Object.entries(hyper as Record<string, unknown>)
      : [];
  const other = Object.entries(attrs).filter(([k]) => !["algorithm", "version", "hyperparameters"].includes(k));
  return (
    <div>
      <EntityHeader entity={m} detail={detail.data} />
      <div className="columns">
        <section className="card">
          <h2>Model</h2>
          <AttrList rows={[["algorithm", attrs.algorithm], ["version", attrs.version], ...other]} />
        </section>
        <section className="card">
          <h2>Hyperparameters</h2>
          {hyperRows.length === 0 ? (
            <p className="muted">None recorded.</p>
          ) : (
            <AttrList rows={hyperRows} />
          )}
        </section>
      </div>
      <section className="card">
        <h2>Features ({features.length})</h2>
        <table className="grid" aria-label="Features">
          <thead>
            <tr>
              <th>Feature</th>
              <th>Type</th>
              <th>Source columns</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {features.map((f) => {
              const cols = byFeature.get(f.fqn) ?? [];
              return (
                <tr key={f.id}>
                  <td>
                    <Link to={entityLink(f.fqn)}>{f.name}</Link>
                  </td>
                  <td>
                    <code>{show((f.attrs as { data_type?: string }).data_type ?? "—")}</code>
                  </td>
                  <td className="small">
                    <EntityChips fqns={cols} to={entityLink} loading={sources.loading} none="none recorded" />
                  </td>
                  <td className="small">{f.description ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {detail.data && <EdgeSummary detail={detail.data} />}
    </div>
  );
}
