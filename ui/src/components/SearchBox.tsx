import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, enc, entityPath, type Suggestion } from "../api";
import { KindBadge } from "./Status";

/** The search box with typeahead. "/" anywhere focuses it; arrows pick; Enter opens. */
export function SearchBox({ initial = "" }: { initial?: string }) {
  const [q, setQ] = useState(initial);
  const [items, setItems] = useState<Suggestion[]>([]);
  const [active, setActive] = useState(-1);
  const [open, setOpen] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const navigate = useNavigate();

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      const typing = target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable;
      if (e.key === "/" && !typing) {
        e.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    const text = q.trim();
    if (!text) {
      setItems([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api<{ items: Suggestion[] }>(`/suggest?q=${enc(text)}&limit=8`)
        .then((r) => live && (setItems(r.items), setActive(-1)))
        .catch(() => live && setItems([]));
    }, 80);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [q]);

  const go = (path: string) => {
    setOpen(false);
    input.current?.blur();
    navigate(path);
  };
  const submit = () => {
    if (active >= 0 && items[active]) go(entityPath(items[active].kind, items[active].fqn));
    else if (q.trim()) go(`/search?q=${enc(q.trim())}`);
  };

  return (
    <div className="searchbox" role="combobox" aria-expanded={open && items.length > 0}>
      <input
        ref={input}
        type="search"
        aria-label="Search the catalog"
        placeholder="Search tables, columns, models, features…  ( / )"
        value={q}
        onChange={(e) => (setQ(e.target.value), setOpen(true))}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") (e.preventDefault(), setActive((a) => Math.min(a + 1, items.length - 1)));
          else if (e.key === "ArrowUp") (e.preventDefault(), setActive((a) => Math.max(a - 1, -1)));
          else if (e.key === "Enter") (e.preventDefault(), submit());
          else if (e.key === "Escape") (setOpen(false), input.current?.blur());
        }}
      />
      {open && items.length > 0 && (
        <ul className="suggestions" role="listbox">
          {items.map((s, i) => (
            <li
              key={s.id}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : ""}
              onMouseDown={(e) => (e.preventDefault(), go(entityPath(s.kind, s.fqn)))}
            >
              <KindBadge kind={s.kind} /> <strong>{s.name}</strong>
              <span className="muted small"> {s.fqn}</span>
              {s.count > 1 && <span className="muted small"> · {s.count} with this name</span>}
            </li>
          ))}
          <li
            role="option"
            aria-selected={false}
            className="all"
            onMouseDown={(e) => (e.preventDefault(), go(`/search?q=${enc(q.trim())}`))}
          >
            All results for “{q.trim()}”
          </li>
        </ul>
      )}
    </div>
  );
}
