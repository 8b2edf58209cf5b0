import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: ApiError | null;
  readonly loading: boolean;
  /** Loads again, keeping the data shown until the new answer is in. */
  reload(): Promise<void>;
}

/**
 * Data loaded from the gateway for a page: reloaded when `deps` change, and
 * an answer that arrives after a newer request started is dropped.
 */
export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loader.current();
      if (mine === generation.current) setState({ data, error: null, loading: false });
    } catch (err) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error: asApiError(err), loading: false }));
    }
  }, []);
  useEffect(() => {
    setState({ data: undefined, error: null, loading: true });
    void reload();
  }, deps);
  return { ...state, reload };
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(0, 'client_error', err instanceof Error ? err.message : String(err));
}

/**
 * A form action: runs `action`, exposing `busy` (to disable the button
 * while it runs) and the refusal, if any, to show next to the form.
 */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // Buttons say aria-disabled while it runs (a disabled button would drop the keyboard focus); a second press is ignored here.
  const running = useRef(false);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      if (running.current) return undefined;
      running.current = true;
      setBusy(true);
      setError(null);
      try {
        return await action(...args);
      } catch (err) {
        setError(asApiError(err));
        return undefined;
      } finally {
        running.current = false;
        setBusy(false);
      }
    },
    [action],
  );
  return { run, busy, error, clearError: () => setError(null) };
}

/** Calls `tick` every `ms` while the page is visible. */
export function useInterval(tick: () => void, ms: number): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

export interface Pages<T> {
  /** Every item loaded so far; null until the first page is in. */
  readonly items: T[] | null;
  readonly error: ApiError | null;
  readonly busy: boolean;
  /** True while the gateway says there is more. */
  readonly hasMore: boolean;
  /** Loads the next page and appends it. */
  more(): Promise<void>;
}

/**
 * A cursor-paged list (`{…, nextCursor}`): the first page when `deps`
 * change, the next one on `more()`; an answer for an older `deps` is dropped.
 */
export function usePages<T>(
  loadPage: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>,
  deps: readonly unknown[],
): Pages<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const generation = useRef(0);
  const loader = useRef(loadPage);
  loader.current = loadPage;
  const load = useCallback(async (after: string | null) => {
    const mine = after === null ? ++generation.current : generation.current;
    setBusy(true);
    setError(null);
    try {
      const page = await loader.current(after);
      if (mine !== generation.current) return;
      setItems((prev) => (after !== null && prev ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (err) {
      if (mine === generation.current) setError(asApiError(err));
    } finally {
      if (mine === generation.current) setBusy(false);
    }
  }, []);
  useEffect(() => {
    setItems(null);
    setCursor(null);
    void load(null);
  }, deps);
  return {
    items,
    error,
    busy,
    hasMore: cursor !== null,
    more: async () => {
      if (cursor !== null && !busy) await load(cursor);
    },
  };
}
