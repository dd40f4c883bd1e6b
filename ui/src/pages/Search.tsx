import { Link, useSearchParams } from "react-router";
import { enc, entityPath, type Entity, type Highlight, type ModelUsingFeature, type SearchHit } from "../api";
import { useApi } from "../hooks";
import { Failure, KindBadge, Loading } from "../components/Status";

const KINDS = ["", "table", "column", "ml_model", "feature", "dashboard", "pipeline", "service"];

/** Marks the matched character ranges of a highlighted text. */
function Marked({ h }: { h: Highlight }) {
  const chars = Array.from(h.text);
  const out: React.ReactNode[] = [];
  let at = 0;
  for (const [start, end] of h.ranges) {
    if (start > at) out.push(chars.slice(at, start).join(""));
    out.push(<mark key={start}>{chars.slice(start, end).join("")}</mark>);
    at = end;
  }
  if (at < chars.length) out.push(chars.slice(at).join(""));
  return <>{out}</>;
}

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q")?.trim() ?? "";
  const kind = params.get("kind") ?? "";
  const owner = params.get("owner") ?? "";
  const service = params.get("service") ?? "";
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };

  const filters = [kind && `&kind=${enc(kind)}`, owner && `&owner=${enc(owner)}`, service && `&service=${enc(service)}`]
    .filter(Boolean)
    .join("");
  const hits = useApi<{ hits: SearchHit[] }>(q ? `/search?q=${enc(q)}&limit=50${filters}` : null);
  const byFeature = useApi<{ models: ModelUsingFeature[]; total: number }>(
    q && (!kind || kind === "ml_model" || kind === "feature")
      ? `/search/models-by-feature?name=${enc(q)}&fuzzy=true&limit=20`
      : null,
  );
  const listed = useApi<{ items: Entity[] }>(
    !q && (kind === "table" || kind === "ml_model") ? `/${kind}s?limit=100` : null,
  );

  const models = byFeature.data?.models
    .filter((m) => !owner || m.owner?.name === owner)
    .sort((a, b) => Number(b.exact) - Number(a.exact));

  return (
    <div className="search-page">
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <input
          aria-label="Query"
          placeholder="feature, column, table or model name"
          defaultValue={q}
          key={q}
          onKeyDown={(e) => e.key === "Enter" && set("q", (e.target as HTMLInputElement).value.trim())}
        />
        <label>
          Kind{" "}
          <select value={kind} onChange={(e) => set("kind", e.target.value)} aria-label="Kind">
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Owner{" "}
          <input aria-label="Owner" defaultValue={owner} key={`o${owner}`} onBlur={(e) => set("owner", e.target.value.trim())} placeholder="team" />
        </label>
        <label>
          Service{" "}
          <input aria-label="Service" defaultValue={service} key={`s${service}`} onBlur={(e) => set("service", e.target.value.trim())} placeholder="hive_prod" />
        </label>
      </form>

      {!q && !listed.data && !listed.loading && <p className="muted">Type a name above or press <kbd>/</kbd>.</p>}
      {listed.data && (
        <section className="card">
          <h2>{kind === "table" ? "Tables" : "Models"}</h2>
          <ul className="list">
            {listed.data.items.map((e) => (
              <li key={e.id}>
                <Link to={entityPath(e.kind, e.fqn)}>{e.fqn}</Link> <span className="muted small">{e.owner}</span>
              </li>
            ))}
          </ul>
        </section>
      )}

      {q && (
        <>
          {(byFeature.data || byFeature.loading) && (!kind || kind === "ml_model" || kind === "feature") && (
            <section className="card" aria-label="Models by feature">
              <h2>Models using a feature named “{q}”</h2>
              {byFeature.error ? (
                <Failure error={byFeature.error} />
              ) : !models ? (
                <Loading />
              ) : models.length === 0 ? (
                <p className="muted">No model uses a feature of this or a close name.</p>
              ) : (
                <ul className="list models-by-feature">
                  {models.map((m) => (
                    <li key={m.id} data-testid="model-hit">
                      <Link to={entityPath("ml_model", m.fqn)}>
                        <strong>{m.name}</strong>
                      </Link>{" "}
                      <span className="muted small">{m.fqn}</span> {m.exact ? <span className="tag exact">exact</span> : <span className="tag close">close name</span>}
                      {m.owner && <span className="muted small"> · owned by {m.owner.display_name ?? m.owner.name}</span>}
                      <ul className="features">
                        {m.features.map((f) => (
                          <li key={f.fqn}>
                            <mark className={f.distance === 0 ? "exact" : "close"}>{f.name}</mark>
                            {f.distance > 0 && <span className="muted small"> ({f.distance} edit{f.distance > 1 ? "s" : ""} away)</span>}
                            {f.sources.length > 0 && <span className="muted small"> ← {f.sources.join(", ")}</span>}
                          </li>
                        ))}
                      </ul>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          )}
          <section className="card" aria-label="All matches">
            <h2>All matches</h2>
            {hits.error ? (
              <Failure error={hits.error} />
            ) : !hits.data ? (
              <Loading />
            ) : hits.data.hits.length === 0 ? (
              <p className="muted">Nothing matches “{q}”{filters && " with these filters"}.</p>
            ) : (
              <ul className="list">
                {hits.data.hits.map((h) => {
                  const hl = h.matched.highlights.find((x) => x.field === "name") ?? h.matched.highlights[0];
                  return (
                    <li key={h.id} data-testid="search-hit">
                      <KindBadge kind={h.kind} />{" "}
                      <Link to={entityPath(h.kind, h.fqn)}>{hl && hl.field === "name" ? <Marked h={hl} /> : h.name}</Link>{" "}
                      <span className="muted small">{h.fqn}</span>
                      <span className="tag">{h.matched.tier.replace("_", " ")}</span>
                      {h.owner && <span className="muted small"> · {h.owner}</span>}
                      {hl && hl.field !== "name" && (
                        <div className="small muted">
                          {hl.field}: <Marked h={hl} />
                        </div>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
          </section>
        </>
      )}
    </div>
  );
}
