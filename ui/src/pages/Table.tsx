import { Link, useParams } from "react-router";
import { enc, entityPath, type Entity, type EntityDetail, type ImpactReport } from "../api";
import { useApi } from "../hooks";
import { EntityHeader, EdgeSummary } from "./Entity";
import { EntityChips } from "../components/Fields";
import { Failure, Loading } from "../components/Status";

/** Columns with types, comments and key flags, and the models each column feeds. */
export function TablePage() {
  const fqn = useParams().fqn!;
  const table = useApi<{ table: Entity; columns: Entity[] }>(`/tables/${enc(fqn)}`);
  const detail = useApi<EntityDetail>(`/entities/${enc(fqn)}`);
  const impact = useApi<ImpactReport>(`/impact?fqn=${enc(fqn)}&kinds=ml_model&limit=5000`);
  if (table.error) return <Failure error={table.error} />;
  if (!table.data) return <Loading what="the table" />;

  // A path runs table → column → … → model: its second step names the column used.
  const modelsByColumn = new Map<string, Set<string>>();
  const hit = [...(impact.data?.teams.flatMap((t) => t.entities) ?? []), ...(impact.data?.unowned ?? [])];
  for (const m of hit) {
    const column = m.path.find((p) => p.startsWith(`${fqn}.`));
    if (!column) continue;
    if (!modelsByColumn.has(column)) modelsByColumn.set(column, new Set());
    modelsByColumn.get(column)!.add(m.fqn);
  }
  const { table: t, columns } = table.data;
  return (
    <div>
      <EntityHeader entity={t} detail={detail.data} />
      <section className="card">
        <h2>Columns ({columns.length})</h2>
        <table className="grid" aria-label="Columns">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Keys</th>
              <th>Comment</th>
              <th>Used by models</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((c) => {
              const a = c.attrs as { data_type?: string; primary_key?: boolean; partition_key?: boolean; nullable?: boolean };
              const models = [...(modelsByColumn.get(c.fqn) ?? [])];
              return (
                <tr key={c.id} id={c.name}>
                  <td>
                    <Link to={`/entities/${enc(c.fqn)}`}>{c.name}</Link>
                  </td>
                  <td>
                    <code>{a.data_type ?? "—"}</code>
                    {a.nullable === false && <span className="muted small"> not null</span>}
                  </td>
                  <td>
                    {a.primary_key && <span className="tag">primary</span>}
                    {a.partition_key && <span className="tag">partition</span>}
                  </td>
                  <td className="small">{c.description ?? ""}</td>
                  <td className="small">
                    <EntityChips fqns={models} to={(m) => entityPath("ml_model", m)} loading={impact.loading} none="none" />
                  </td>
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
