import { useEffect, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { getToken, setToken } from "./api";
import { SearchBox } from "./components/SearchBox";
import { useMe } from "./hooks";

/** Header (search, navigation, who is signed in) around every page. */
export function Layout() {
  const me = useMe();
  const [asking, setAsking] = useState(false);
  const location = useLocation();

  useEffect(() => {
    const ask = () => setAsking(true);
    window.addEventListener("tributary-unauthenticated", ask);
    return () => window.removeEventListener("tributary-unauthenticated", ask);
  }, []);
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [location.pathname]);

  return (
    <>
      <header className="top">
        <NavLink to="/" className="brand">
          Tributary
        </NavLink>
        <SearchBox key={location.pathname === "/search" ? "search" : "other"} />
        <nav>
          <NavLink to="/search">Search</NavLink>
          <NavLink to="/incidents">Incidents</NavLink>
          <NavLink to="/ingestion">Ingestion</NavLink>
        </nav>
        <button className="who" onClick={() => setAsking(true)} title="Change token">
          {me ? (me.role ? `${me.name} · ${me.role}` : "anonymous · read only") : "…"}
        </button>
      </header>
      <main>
        <Outlet context={me} />
      </main>
      {asking && <TokenDialog onClose={() => setAsking(false)} />}
    </>
  );
}

function TokenDialog({ onClose }: { onClose: () => void }) {
  const [value, setValue] = useState(getToken() ?? "");
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <form
        className="dialog"
        role="dialog"
        aria-label="API token"
        onClick={(e) => e.stopPropagation()}
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim() || null);
          onClose();
          window.location.reload();
        }}
      >
        <h2>API token</h2>
        <p className="muted">
          Reads may need a token when anonymous reads are off; editing needs an editor or admin token. The server
          printed an admin token on its first start; <code>POST /api/v1/tokens</code> makes more. It is kept in this
          browser only.
        </p>
        <input
          autoFocus
          type="password"
          aria-label="Token"
          placeholder="trb_…"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <div className="row">
          <button type="submit" className="primary">
            Use token
          </button>
          <button type="button" onClick={() => (setToken(null), onClose(), window.location.reload())}>
            Sign out
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
