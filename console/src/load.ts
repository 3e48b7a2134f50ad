import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data: T | null;
  error: string;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `key` changes (and on reload()); only the newest answer is kept. The data of
 * another key is never shown (a new search shows "Loading…", not the previous results); a reload
 * keeps the current data on screen until the new answer arrives.
 */
export function useLoad<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ key: string; data: T | null; error: string; loading: boolean }>({
    key,
    data: null,
    error: "",
    loading: true,
  });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const n = ++latest.current;
    setState((s) => ({ key, data: s.key === key ? s.data : null, error: "", loading: true }));
    loadRef.current().then(
      (data) => n === latest.current && setState({ key, data, error: "", loading: false }),
      (err: Error) => n === latest.current && setState((s) => ({ ...s, error: err.message, loading: false })),
    );
  }, [key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  const current = state.key === key;
  return { data: current ? state.data : null, error: current ? state.error : "", loading: !current || state.loading, reload };
}
