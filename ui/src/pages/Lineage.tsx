import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  getNodesBounds,
  getViewportForBounds,
  useReactFlow,
  type Edge as FlowEdge,
  type Node as FlowNode,
  type NodeProps,
} from "@xyflow/react";
import dagre from "@dagrejs/dagre";
import { toPng, toSvg } from "html-to-image";
import { api, enc, entityPath, type Incident, type Kind, type LineageNode, type LineagePage } from "../api";
import { Failure, KindBadge, Loading } from "../components/Status";

/** Neighbours fetched per expansion; the rest wait behind "+N more". */
const FANOUT = 25;
const NODE_W = 230;
const NODE_H = 46;
/** Above this many nodes, lay out by distance (linear time) instead of dagre. */
const DAGRE_LIMIT = 1200;

type Direction = "up" | "down";

interface Known extends LineageNode {
  /** Per direction: neighbours not fetched yet (unknown until asked) and where to resume. */
  more: Record<Direction, { seen: number; left: number; cursor?: string } | undefined>;
}

interface NodeData extends Record<string, unknown> {
  node: Known;
  root: boolean;
  affected: boolean;
  onPath: boolean;
  picked: boolean;
  onExpand: (fqn: string, dir: Direction) => void;
}

const edgeKey = (from: string, to: string) => `${from}→${to}`;

function shortName(fqn: string, kind: Kind): string {
  const parts = fqn.split(".");
  return kind === "column" || kind === "feature" ? parts.slice(-2).join(".") : parts[parts.length - 1];
}

const EntityNode = memo(function EntityNode({ data }: NodeProps<FlowNode<NodeData>>) {
  const { node, root, affected, onPath, picked, onExpand } = data;
  const more = (dir: Direction) => {
    const m = node.more[dir];
    if (m && m.left === 0) return null;
    return (
      <button
        className={`expand expand-${dir}`}
        title={dir === "up" ? "Show upstream" : "Show downstream"}
        aria-label={`Expand ${dir}stream of ${node.fqn}`}
        onClick={(e) => (e.stopPropagation(), onExpand(node.fqn, dir))}
      >
        {m ? `+${m.left}` : "+"}
      </button>
    );
  };
  const cls = ["lnode", `lnode-${node.kind}`, root && "root", affected && "affected", onPath && "on-path", picked && "picked"]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={cls} data-fqn={node.fqn} title={node.fqn}>
      <Handle type="target" position={Position.Left} />
      {more("up")}
      <div className="lnode-body">
        <KindBadge kind={node.kind} /> <span className="lname">{shortName(node.fqn, node.kind)}</span>
        <div className="lowner">{node.owner ?? "no owner"}{affected ? " · incident" : ""}</div>
      </div>
      {more("down")}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

const nodeTypes = { entity: EntityNode };

function layout(nodes: Known[], edges: { from: string; to: string }[]): Map<string, { x: number; y: number }> {
  const at = new Map<string, { x: number; y: number }>();
  if (nodes.length <= DAGRE_LIMIT) {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 12, ranksep: 80 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of nodes) g.setNode(n.fqn, { width: NODE_W, height: NODE_H });
    for (const e of edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
    dagre.layout(g);
    for (const n of nodes) {
      const p = g.node(n.fqn);
      at.set(n.fqn, { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2 });
    }
    return at;
  }
  // Huge neighbourhoods: one block per distance, left to right, each block about as
  // tall as wide (a single column of 1,000 nodes would be 56,000 px tall), rows in FQN
  // order so siblings stay together.
  const layers = new Map<number, Known[]>();
  for (const n of nodes) layers.set(n.distance, [...(layers.get(n.distance) ?? []), n]);
  const cellW = NODE_W + 30;
  const cellH = NODE_H + 10;
  let x = 0;
  for (const d of [...layers.keys()].sort((a, b) => a - b)) {
    const layer = layers.get(d)!;
    layer.sort((a, b) => a.fqn.localeCompare(b.fqn));
    const rows = Math.max(1, Math.ceil(Math.sqrt((layer.length * cellW) / cellH)));
    const cols = Math.ceil(layer.length / rows);
    const top = -((Math.min(rows, layer.length) - 1) * cellH) / 2;
    layer.forEach((n, i) => at.set(n.fqn, { x: x + Math.floor(i / rows) * cellW, y: top + (i % rows) * cellH }));
    x += cols * cellW + 160;
  }
  return at;
}

/** A directed path from `a` to `b` (or `b` to `a`) through the known edges. */
function findPath(a: string, b: string, edges: { from: string; to: string }[]): string[] | null {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const bfs = (from: string, to: string) => {
    const prev = new Map<string, string>([[from, ""]]);
    const queue = [from];
    while (queue.length) {
      const n = queue.shift()!;
      if (n === to) {
        const path = [to];
        for (let p = prev.get(to)!; p; p = prev.get(p)!) path.unshift(p);
        return path;
      }
      for (const m of out.get(n) ?? []) if (!prev.has(m)) (prev.set(m, n), queue.push(m));
    }
    return null;
  };
  return bfs(a, b) ?? bfs(b, a);
}

function download(url: string, name: string) {
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
}

function LineageGraph({ root, level, up, down }: { root: string; level: "table" | "column"; up: number; down: number }) {
  const [nodes, setNodes] = useState<Map<string, Known>>(new Map());
  const [edges, setEdges] = useState<Map<string, { from: string; to: string; sources: string[] }>>(new Map());
  const [error, setError] = useState<unknown>();
  const [total, setTotal] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [affected, setAffected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);

  const merge = useCallback((page: LineagePage, from?: { base: number }) => {
    setNodes((prev) => {
      const next = new Map(prev);
      for (const n of page.nodes) {
        if (next.has(n.fqn)) continue;
        // An expansion's distances count from the expanded node.
        const distance = from ? from.base + n.distance : n.distance;
        next.set(n.fqn, { ...n, distance, more: { up: undefined, down: undefined } });
      }
      return next;
    });
    setEdges((prev) => {
      const next = new Map(prev);
      for (const e of page.edges) next.set(edgeKey(e.from, e.to), e);
      return next;
    });
  }, []);

  // The first view: `up`/`down` hops around the root, every page of it.
  useEffect(() => {
    let live = true;
    setNodes(new Map());
    setEdges(new Map());
    setError(undefined);
    (async () => {
      let cursor: string | undefined;
      do {
        const page = await api<LineagePage>(
          `/lineage/${enc(root)}?level=${level}&upstream=${up}&downstream=${down}&limit=5000${cursor ? `&cursor=${cursor}` : ""}`,
        );
        if (!live) return;
        setTotal(page.total_nodes);
        merge(page);
        cursor = page.next_cursor;
      } while (cursor);
    })().catch((e) => live && setError(e));
    // Active incidents (open or acknowledged) mark what they hit.
    Promise.all(
      ["open", "acknowledged"].map((status) => api<{ items: Incident[] }>(`/incidents?status=${status}&limit=100`)),
    )
      .then((lists) => {
        if (!live) return;
        const hit = new Set<string>();
        for (const i of lists.flatMap((l) => l.items)) {
          hit.add(i.fqn);
          for (const t of i.snapshot?.teams ?? []) for (const e of t.entities) hit.add(e.fqn);
          for (const e of i.snapshot?.unowned ?? []) hit.add(e.fqn);
        }
        setAffected(hit);
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [root, level, up, down, merge]);

  const expand = useCallback(
    async (fqn: string, dir: Direction) => {
      const node = nodes.get(fqn);
      if (!node) return;
      setBusy(true);
      try {
        const cursor = node.more[dir]?.cursor;
        const page = await api<LineagePage>(
          `/lineage/${enc(fqn)}?level=${level}&upstream=${dir === "up" ? 1 : 0}&downstream=${dir === "down" ? 1 : 0}&limit=${FANOUT}${cursor ? `&cursor=${cursor}` : ""}`,
        );
        merge(page, { base: node.distance });
        // The total counts the asked node itself; what is left waits behind the cursor.
        const seen = (node.more[dir]?.seen ?? 0) + page.nodes.filter((n) => n.fqn !== fqn).length;
        const left = page.next_cursor ? Math.max(0, page.total_nodes - 1 - seen) : 0;
        setNodes((prev) => {
          const next = new Map(prev);
          const n = next.get(fqn);
          if (n) next.set(fqn, { ...n, more: { ...n.more, [dir]: { seen, left, cursor: page.next_cursor } } });
          return next;
        });
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    },
    [nodes, level, merge],
  );

  const edgeList = useMemo(() => [...edges.values()], [edges]);
  const positions = useMemo(() => layout([...nodes.values()], edgeList), [nodes, edgeList]);
  const path = useMemo(
    () => (picked.length === 2 ? findPath(picked[0], picked[1], edgeList) : null),
    [picked, edgeList],
  );
  const onPath = useMemo(() => new Set(path ?? []), [path]);
  const pathEdges = useMemo(() => {
    const s = new Set<string>();
    if (path) for (let i = 1; i < path.length; i++) s.add(edgeKey(path[i - 1], path[i]));
    return s;
  }, [path]);

  // At table level a table stands for its columns: it is marked when any of them is hit.
  // Every hit's ancestors, once, so marking a node is one lookup (not a scan per node).
  const marked = useMemo(() => {
    if (level !== "table") return affected;
    const all = new Set(affected);
    for (const fqn of affected) {
      const parts = fqn.split(".");
      for (let i = 1; i < parts.length; i++) all.add(parts.slice(0, i).join("."));
    }
    return all;
  }, [affected, level]);
  const isAffected = useCallback((fqn: string) => marked.has(fqn), [marked]);

  const flowNodes: FlowNode<NodeData>[] = useMemo(
    () =>
      [...nodes.values()].map((n) => ({
        id: n.fqn,
        type: "entity",
        position: positions.get(n.fqn) ?? { x: 0, y: 0 },
        data: {
          node: n,
          root: n.fqn === root,
          affected: isAffected(n.fqn),
          onPath: onPath.has(n.fqn),
          picked: picked.includes(n.fqn),
          onExpand: expand,
        },
        selected: n.fqn === selected,
      })),
    [nodes, positions, root, isAffected, onPath, picked, expand, selected],
  );
  const flowEdges: FlowEdge[] = useMemo(
    () =>
      edgeList.map((e) => {
        const k = edgeKey(e.from, e.to);
        const hot = pathEdges.has(k);
        return {
          id: k,
          source: e.from,
          target: e.to,
          animated: hot,
          className: hot ? "on-path" : e.sources.every((s) => s === "contains") ? "contains" : undefined,
        };
      }),
    [edgeList, pathEdges],
  );

  // Centre on the root once the first view is in.
  const centred = useRef(false);
  useEffect(() => {
    centred.current = false;
  }, [root, level, up, down]);
  useEffect(() => {
    if (!centred.current && nodes.size > 0) {
      centred.current = true;
      const at = positions.get(root);
      // A small graph fits the screen; a huge one opens readable, on its centre entity.
      requestAnimationFrame(() =>
        nodes.size <= 150 || !at
          ? flow.fitView({ padding: 0.1, maxZoom: 1.2 })
          : flow.setCenter(at.x + NODE_W / 2, at.y + NODE_H / 2, { zoom: 0.7 }),
      );
    }
  }, [nodes, positions, root, flow]);

  const exportImage = async (kind: "png" | "svg") => {
    const el = wrapper.current?.querySelector<HTMLElement>(".react-flow__viewport");
    if (!el) return;
    const bounds = getNodesBounds(flowNodes);
    const width = Math.min(4000, Math.max(800, bounds.width + 80));
    const height = Math.min(4000, Math.max(500, bounds.height + 80));
    const vp = getViewportForBounds(bounds, width, height, 0.05, 2, 0.05);
    const options = {
      backgroundColor: "#ffffff",
      width,
      height,
      style: { width: `${width}px`, height: `${height}px`, transform: `translate(${vp.x}px, ${vp.y}px) scale(${vp.zoom})` },
    };
    const url = kind === "png" ? await toPng(el, options) : await toSvg(el, options);
    download(url, `lineage-${root}.${kind}`);
  };

  const sel = selected ? nodes.get(selected) : undefined;
  if (error) return <Failure error={error} />;
  return (
    <div className="lineage">
      <div className="lineage-toolbar">
        <span className="small" data-testid="lineage-count">
          {nodes.size.toLocaleString()} nodes, {edges.size.toLocaleString()} edges
          {total > nodes.size ? ` (of ${total.toLocaleString()} within ${up} up / ${down} down)` : ""}
        </span>
        <button onClick={() => exportImage("png")}>Export PNG</button>
        <button onClick={() => exportImage("svg")}>Export SVG</button>
        <span className="muted small">
          Click a node for details · shift-click two nodes to highlight the path between them · <span className="swatch affected" /> incident
        </span>
        {busy && <span className="muted small">loading…</span>}
        {picked.length > 0 && (
          <button onClick={() => setPicked([])}>
            Clear path {path ? `(${path.length - 1} hops)` : picked.length === 2 ? "(no path)" : ""}
          </button>
        )}
      </div>
      <div className="lineage-body">
        <div className="lineage-canvas" ref={wrapper}>
          {nodes.size === 0 ? (
            <Loading what="the lineage" />
          ) : (
            <ReactFlow
              nodes={flowNodes}
              edges={flowEdges}
              nodeTypes={nodeTypes}
              onlyRenderVisibleElements
              nodesConnectable={false}
              minZoom={0.02}
              onNodeClick={(e, n) => {
                if (e.shiftKey) setPicked((p) => (p.length >= 2 ? [n.id] : p.includes(n.id) ? p : [...p, n.id]));
                else setSelected(n.id);
              }}
              onNodeDoubleClick={(_, n) => {
                const k = nodes.get(n.id);
                if (k) navigate(entityPath(k.kind, k.fqn));
              }}
              onPaneClick={() => setSelected(null)}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <Controls showInteractive={false} />
              <MiniMap pannable zoomable />
            </ReactFlow>
          )}
        </div>
        {sel && (
          <aside className="lineage-side" aria-label="Selected node">
            <h3>
              <KindBadge kind={sel.kind} /> {shortName(sel.fqn, sel.kind)}
            </h3>
            <p className="small">
              <code>{sel.fqn}</code>
            </p>
            <p className="small">Owner: {sel.owner ?? "none"}</p>
            <p className="small">{sel.distance === 0 ? "the centre" : sel.distance > 0 ? `${sel.distance} hop(s) downstream` : `${-sel.distance} hop(s) upstream`}</p>
            {isAffected(sel.fqn) && <p className="small affected-text">Affected by an active incident</p>}
            <div className="stack">
              <Link className="button" to={entityPath(sel.kind, sel.fqn)}>
                Open page
              </Link>
              <Link className="button" to={`/lineage/${enc(sel.fqn)}?level=${level}`}>
                Centre here
              </Link>
              <Link className="button" to={`/impact/${enc(sel.fqn)}`}>
                Impact
              </Link>
              <button onClick={() => expand(sel.fqn, "up")}>Expand upstream</button>
              <button onClick={() => expand(sel.fqn, "down")}>Expand downstream</button>
            </div>
          </aside>
        )}
      </div>
    </div>
  );
}

/** The lineage around an entity: `?level=table|column&up=N&down=N` in the URL. */
export function LineagePage() {
  const fqn = useParams().fqn!;
  const [params, setParams] = useSearchParams();
  const level = params.get("level") === "column" ? "column" : "table";
  const hops = (key: string) => {
    const n = Number(params.get(key) ?? "1");
    return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 1;
  };
  const up = hops("up");
  const down = hops("down");
  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) next.set(k, v);
    setParams(next);
  };
  return (
    <div>
      <header className="lineage-header">
        <h1>
          Lineage of <Link to={`/entities/${enc(fqn)}`}>{fqn}</Link>
        </h1>
        <div className="row">
          <div role="group" aria-label="Level" className="toggle">
            <button className={level === "table" ? "on" : ""} onClick={() => set({ level: "table" })}>
              Tables
            </button>
            <button className={level === "column" ? "on" : ""} onClick={() => set({ level: "column" })}>
              Columns
            </button>
          </div>
          <span className="small">
            Upstream {up}{" "}
            <button aria-label="One more level upstream" onClick={() => set({ up: String(up + 1) })}>
              +1
            </button>{" "}
            Downstream {down}{" "}
            <button aria-label="One more level downstream" onClick={() => set({ down: String(down + 1) })}>
              +1
            </button>
          </span>
          <Link className="button" to={`/impact/${enc(fqn)}`}>
            Impact
          </Link>
        </div>
      </header>
      <ReactFlowProvider>
        <LineageGraph key={`${fqn}|${level}|${up}|${down}`} root={fqn} level={level} up={up} down={down} />
      </ReactFlowProvider>
    </div>
  );
}
