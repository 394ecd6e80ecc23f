import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Run `load` when `key` changes (and every `intervalMs` while the page is visible).
 * Keeps the last data while reloading, so polling does not flicker.
 */
export function useLoad<T>(load: (() => Promise<T>) | null, key: string, intervalMs = 0): Loaded<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loading: boolean }>({ key, loading: load !== null });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const errorRef = useRef<Error | undefined>(undefined);
  errorRef.current = state.error;

  useEffect(() => {
    const fn = loadRef.current;
    if (!fn) {
      setState({ key, loading: false });
      return;
    }
    let live = true;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    fn().then(
      (data) => live && setState({ key, data, loading: false }),
      (error: Error) => live && setState((s) => ({ key, data: s.key === key ? s.data : undefined, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);

  useEffect(() => {
    if (!intervalMs || !load) return;
    const t = setInterval(() => {
      // not logged in: polling would only pop the browser's login dialog again and again
      if ((errorRef.current as { code?: unknown } | undefined)?.code === 'UNAUTHORIZED') return;
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, intervalMs);
    return () => clearInterval(t);
  }, [intervalMs, load === null]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: !current || state.loading, reload };
}

/** One async action at a time, with its error kept for showing inline. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  async function run(fn: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run, clear: () => setError(null) };
}

// ------------------------------------------------------------------ hash routes

export type Route = { view: 'repositories'; repo?: string; ref?: string } | { view: 'share' } | { view: 'logs' } | { view: 'users' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(safeDecode);
  if (parts[0] === 'share') return { view: 'share' };
  if (parts[0] === 'logs') return { view: 'logs' };
  if (parts[0] === 'users') return { view: 'users' };
  return { view: 'repositories', repo: parts[1], ref: parts[2] };
}

export function routeHref(r: Route): string {
  if (r.view === 'share') return '#/share';
  if (r.view === 'logs') return '#/logs';
  if (r.view === 'users') return '#/users';
  let h = '#/repositories';
  if (r.repo) h += '/' + encodeURIComponent(r.repo);
  if (r.repo && r.ref) h += '/' + encodeURIComponent(r.ref);
  return h;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function subscribeHash(cb: () => void): () => void {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribeHash, () => window.location.hash);
  return parseHash(hash);
}
