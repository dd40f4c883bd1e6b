import { useCallback, useEffect, useState } from "react";
import { api, type Me } from "./api";

/** Loads `path` (re-loading when it changes); `reload` fetches again. */
export function useApi<T>(path: string | null) {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setError(undefined);
    api<T>(path)
      .then((d) => live && setData(d))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload, loading: data === undefined && error === undefined };
}

/** Who the caller is; re-read when the token changes. */
export function useMe(): Me | undefined {
  const [me, setMe] = useState<Me | undefined>();
  useEffect(() => {
    const load = () =>
      api<Me>("/me")
        .then(setMe)
        .catch(() => setMe({ name: "anonymous", role: null, can_edit: false }));
    load();
    window.addEventListener("tributary-auth", load);
    return () => window.removeEventListener("tributary-auth", load);
  }, []);
  return me;
}
